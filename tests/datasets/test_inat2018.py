"""INaturalist2018 reads the released annotation files and refuses broken ones clearly."""
import json

import pytest

from mim_scaling.datasets import INaturalist2018


def annotation_file(root, name='val2018.json', category_ids=(0, 5, 8141), images=None):
    """A file in the released layout: COCO-like images / annotations / categories."""
    if images is None:
        images = [(10, 'train_val2018/Plantae/5/a1.jpg', 5),
                  (11, 'train_val2018/Aves/8141/b2.jpg', 8141),
                  (12, 'train_val2018/Plantae/0/c3.jpg', 0)]
    content = dict(
        info=dict(year=2018, version='1.0'),
        images=[dict(id=i, file_name=f, width=800, height=600, license=3)
                for i, f, _ in images],
        annotations=[dict(id=100 + k, image_id=i, category_id=c)
                     for k, (i, _, c) in enumerate(images)],
        categories=[dict(id=c, name=f'species {c}', supercategory='Plantae', kingdom='Plantae')
                    for c in category_ids])
    (root / name).write_text(json.dumps(content))
    return name


def test_images_get_the_labels_of_their_category_ids(tmp_path):
    dataset = INaturalist2018(ann_file=annotation_file(tmp_path), data_root=str(tmp_path))
    assert len(dataset) == 3
    # Labels are positions of the sorted category ids: 0 -> 0, 5 -> 1, 8141 -> 2.
    assert [dataset.get_data_info(i)['gt_label'] for i in range(3)] == [1, 2, 0]
    assert dataset.get_data_info(1)['img_path'] == str(
        tmp_path / 'train_val2018/Aves/8141/b2.jpg')
    assert dataset.CLASSES == ('species 0', 'species 5', 'species 8141')


def test_released_contiguous_ids_are_the_labels(tmp_path):
    ann = annotation_file(tmp_path, category_ids=range(8142))
    dataset = INaturalist2018(ann_file=ann, data_root=str(tmp_path))
    assert len(dataset.CLASSES) == 8142
    assert [dataset.get_data_info(i)['gt_label'] for i in range(3)] == [5, 8141, 0]


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='train2018.json not found'):
        INaturalist2018(ann_file='train2018.json', data_root=str(tmp_path))


def test_corrupt_json_is_reported(tmp_path):
    (tmp_path / 'val2018.json').write_text('{"images": [{"id": 1, "file_')
    with pytest.raises(ValueError, match='val2018.json is not a valid JSON annotation file'):
        INaturalist2018(ann_file='val2018.json', data_root=str(tmp_path))


def test_json_without_the_iNaturalist_fields_is_reported(tmp_path):
    (tmp_path / 'val2018.json').write_text(json.dumps(dict(images=[], annotations=[])))
    with pytest.raises(ValueError, match=r"it has no \['categories'\]"):
        INaturalist2018(ann_file='val2018.json', data_root=str(tmp_path))


def test_entry_without_category_id_is_reported(tmp_path):
    ann = annotation_file(tmp_path)
    content = json.loads((tmp_path / ann).read_text())
    del content['annotations'][1]['category_id']
    (tmp_path / ann).write_text(json.dumps(content))
    with pytest.raises(ValueError, match="an entry lacks the field 'category_id'"):
        INaturalist2018(ann_file=ann, data_root=str(tmp_path))


def test_unknown_category_is_reported(tmp_path):
    ann = annotation_file(tmp_path, category_ids=(0, 5))
    with pytest.raises(ValueError, match='category_id 8141, which is not in "categories"'):
        INaturalist2018(ann_file=ann, data_root=str(tmp_path))


def test_unlabelled_image_is_reported(tmp_path):
    ann = annotation_file(tmp_path)
    content = json.loads((tmp_path / ann).read_text())
    content['annotations'].pop(0)
    (tmp_path / ann).write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r'image 10 \(train_val2018/Plantae/5/a1.jpg\) has no '
                                         'annotation'):
        INaturalist2018(ann_file=ann, data_root=str(tmp_path))
