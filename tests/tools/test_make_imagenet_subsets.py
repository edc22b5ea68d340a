"""tools/dataset_converters/make_imagenet_subsets.py: the files the subset configs read."""
import importlib
import os.path as osp

import pytest
from mmpretrain.datasets import ImageNet

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZES = {'n01440764': 20, 'n01443537': 11, 'n01484850': 4}


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'dataset_converters'))
    return importlib.import_module('make_imagenet_subsets')


@pytest.fixture
def imagenet(tmp_path):
    """ImageNet's layout: train/<wnid>/<wnid>_<i>.JPEG (empty files: never opened here)."""
    for wnid, n in SIZES.items():
        (tmp_path / 'train' / wnid).mkdir(parents=True)
        for i in range(n):
            (tmp_path / 'train' / wnid / f'{wnid}_{i}.JPEG').write_bytes(b'')
    return tmp_path


def test_writes_nested_subset_files_that_mmpretrain_reads(tool, imagenet, capsys):
    tool.main([str(imagenet)])

    sizes = {}
    for pct in (10, 20, 50):
        # what configs/pretrain/*_in1k-<pct>pct.py build
        dataset = ImageNet(data_root=str(imagenet), split='train',
                           ann_file=f'meta/train_{pct}pct.txt', lazy_init=True)
        samples = {(d['img_path'], d['gt_label']) for d in dataset.load_data_list()}
        assert all(osp.isfile(path) for path, _ in samples)
        assert all(osp.basename(osp.dirname(path)) == list(SIZES)[label]
                   for path, label in samples)
        sizes[pct] = samples
    assert sizes[10] < sizes[20] < sizes[50]
    # 20 -> 2/4/10, 11 -> 1/2/6, 4 -> 1/1/2 images per class
    assert [len(sizes[p]) for p in (10, 20, 50)] == [4, 7, 18]

    out = capsys.readouterr().out
    assert 'n01443537       11        1        2        6' in out
    assert 'total           35        4        7       18' in out


def test_annotation_file_input_and_any_fractions(tool, imagenet, tmp_path):
    tool.main([str(imagenet), '--out-dir', str(tmp_path / 'from_folders'),
               '--fractions', '0.25', '1'])
    lines = (tmp_path / 'from_folders' / 'train_100pct.txt').read_text().splitlines()
    assert len(lines) == sum(SIZES.values())
    (imagenet / 'meta').mkdir()
    (imagenet / 'meta' / 'train.txt').write_text('\n'.join(reversed(lines)) + '\n')

    tool.main([str(imagenet), '--ann-file', 'meta/train.txt', '--out-dir',
               str(tmp_path / 'from_list'), '--fractions', '0.25'])
    assert ((tmp_path / 'from_list' / 'train_25pct.txt').read_text()
            == (tmp_path / 'from_folders' / 'train_25pct.txt').read_text())


def test_keeps_subsets_made_with_another_seed_unless_forced(tool, imagenet):
    tool.main([str(imagenet), '--seed', '1'])
    kept = (imagenet / 'meta' / 'train_50pct.txt').read_text()
    tool.main([str(imagenet), '--seed', '1'])  # the same lists again: fine
    with pytest.raises(SystemExit, match='train_50pct.txt already exist.*--force'):
        tool.main([str(imagenet), '--seed', '2'])
    assert (imagenet / 'meta' / 'train_50pct.txt').read_text() == kept
    tool.main([str(imagenet), '--seed', '2', '--force'])
    assert (imagenet / 'meta' / 'train_50pct.txt').read_text() != kept


def test_bad_data_sets_and_fractions_are_errors_that_name_them(tool, imagenet, capsys):
    (imagenet / 'train' / 'n01491361').mkdir()
    with pytest.raises(SystemExit, match='n01491361 is empty'):
        tool.main([str(imagenet)])
    with pytest.raises(SystemExit, match='has no class folders'):
        tool.main([str(imagenet), '--image-dir', 'train/n01440764'])
    with pytest.raises(SystemExit):
        tool.main([str(imagenet), '--fractions', '0.1', '1.2'])
    assert r'fraction 1.2 is outside (0, 1]' in capsys.readouterr().err
    assert not (imagenet / 'meta').exists()


def test_unlabelled_flat_folder_gives_subsets_that_custom_dataset_reads(tool, tmp_path):
    """The miniature's photographs lie in train/ without class folders: --unlabelled takes
    them as one class; without it, the missing class folders are an error."""
    from mmpretrain.datasets import CustomDataset
    (tmp_path / 'train').mkdir()
    for i in range(6):
        (tmp_path / 'train' / f'photo{i}.png').write_bytes(b'')
    with pytest.raises(SystemExit, match='no class folders'):
        tool.main([str(tmp_path), '--fractions', '0.5'])

    tool.main([str(tmp_path), '--unlabelled', '--fractions', '0.5'])

    # as configs/demo/simmim_swinv2-demo-w16_200it_lfw-50pct.py reads it
    dataset = CustomDataset(data_root=str(tmp_path), data_prefix='train',
                            ann_file='meta/train_50pct.txt', with_label=True, lazy_init=True)
    paths = [d['img_path'] for d in dataset.load_data_list()]
    assert len(paths) == 3 and all(osp.isfile(p) for p in paths)
