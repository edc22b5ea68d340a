"""ImageNet-A, -R and -Sketch read from their released folder layouts, with ImageNet-1K
labels, and the class lists shipped with the package."""
import pytest
from mmengine.logging import MMLogger

from mim_scaling.datasets import ImageNetA, ImageNetR, ImageNetSketch
from mim_scaling.datasets.imagenet_robustness import IMAGENET1K_WNIDS, read_wnids


def write_folders(root, images):
    for wnid, names in images.items():
        (root / wnid).mkdir(parents=True)
        for name in names:
            (root / wnid / name).write_bytes(b'')
    (root / 'README.txt').write_text('released with the data set')


def test_class_lists_are_imagenet_1k_classes():
    assert len(IMAGENET1K_WNIDS) == len(set(IMAGENET1K_WNIDS)) == 1000
    assert list(IMAGENET1K_WNIDS) == sorted(IMAGENET1K_WNIDS)  # labels are sorted wnids
    assert IMAGENET1K_WNIDS[0] == 'n01440764' and IMAGENET1K_WNIDS[-1] == 'n15075141'
    for name in ('imagenet_a_wnids.txt', 'imagenet_r_wnids.txt'):
        wnids = read_wnids(name)
        assert len(set(wnids)) == 200 and set(wnids) <= set(IMAGENET1K_WNIDS)
    # The two sets differ: both have the stingray (n01498041) and the acorn (n12267677), only
    # ImageNet-R the goldfish (n01443537), neither the tench (n01440764).
    a, r = set(read_wnids('imagenet_a_wnids.txt')), set(read_wnids('imagenet_r_wnids.txt'))
    assert {'n01498041', 'n12267677'} <= a & r and 'n01443537' in r - a
    assert 'n01440764' not in a | r


def test_class_lists_match_timms_copies():
    """timm ships the same lists, taken independently from the same sources."""
    info = pytest.importorskip('timm.data').ImageNetInfo
    from importlib.resources import files
    folder = files('timm.data') / '_info'
    if not (folder / 'imagenet_a_synsets.txt').is_file():
        pytest.skip('this timm has no ImageNet-A/R class lists')
    assert tuple(info().label_names()) == IMAGENET1K_WNIDS
    for ours, theirs in (('imagenet_a_wnids.txt', 'imagenet_a_synsets.txt'),
                         ('imagenet_r_wnids.txt', 'imagenet_r_synsets.txt')):
        assert read_wnids(ours) == tuple(sorted((folder / theirs).read_text().split()))


def test_imagenet_r_labels_its_folders_with_imagenet_1k_labels(tmp_path):
    write_folders(tmp_path, {'n01443537': ['art_0.jpg', 'cartoon_1.jpg'],
                             'n12267677': ['toy_0.jpg']})
    dataset = ImageNetR(data_root=str(tmp_path), lazy_init=True)  # no gc.collect()

    assert [(d['img_path'], d['gt_label']) for d in dataset.load_data_list()] == [
        (str(tmp_path / 'n01443537/art_0.jpg'), 1), (str(tmp_path / 'n01443537/cartoon_1.jpg'), 1),
        (str(tmp_path / 'n12267677/toy_0.jpg'), 988)]
    assert len(dataset.metainfo['classes']) == 1000
    assert dataset.metainfo['classes'][1] == 'goldfish, Carassius auratus'
    subset = dataset.metainfo['label_subset']
    assert len(subset) == 200 and {1, 988} <= set(subset) and 0 not in subset


def test_missing_classes_are_a_warning_foreign_folders_an_error(tmp_path, monkeypatch):
    write_folders(tmp_path / 'a', {'n01498041': ['0.jpg']})
    messages = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning', messages.append)
    assert len(ImageNetA(data_root=str(tmp_path / 'a'), lazy_init=True).load_data_list()) == 1
    assert any('199 of the 200 classes have no images' in m for m in messages)

    # a goldfish folder belongs to ImageNet-A; a tench (n01440764) only to ImageNet-1K
    write_folders(tmp_path / 'r', {'n01440764': ['0.jpg'], 'n01443537': ['0.jpg']})
    with pytest.raises(ValueError, match='not classes of the data set: n01440764'):
        ImageNetR(data_root=str(tmp_path / 'r'), lazy_init=True).load_data_list()
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        ImageNetR(data_root=str(tmp_path / 'missing'), lazy_init=True).load_data_list()


def test_imagenet_sketch_has_all_1000_classes(tmp_path):
    write_folders(tmp_path, {'n01440764': ['sketch_0.JPEG'], 'n01443537': ['sketch_1.jpeg']})
    dataset = ImageNetSketch(data_root=str(tmp_path), lazy_init=True)
    assert [d['gt_label'] for d in dataset.load_data_list()] == [0, 1]
    assert dataset.metainfo['label_subset'] == tuple(range(1000))
