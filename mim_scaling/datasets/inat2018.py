"""iNaturalist 2018 species classification, read from its COCO-style annotation files."""
import json
from typing import List

from mmengine import fileio
from mmpretrain.datasets import BaseDataset

from mim_scaling.registry import DATASETS


@DATASETS.register_module()
class INaturalist2018(BaseDataset):
    """The iNaturalist 2018 dataset (8142 species) as released::

        data/inat2018
        ├── train_val2018/<supercategory>/<category id>/<image>.jpg
        ├── train2018.json
        └── val2018.json

    Each annotation file holds ``images`` (``id``, ``file_name`` relative to ``data_root``),
    ``annotations`` (``image_id``, ``category_id``, one per image) and ``categories``
    (``id``, ``name``). Labels are the positions of the category ids in sorted order, which
    for the released files (ids 0 .. 8141) are the ids themselves.

    Args:
        ann_file: ``train2018.json`` or ``val2018.json``, relative to ``data_root``.
        data_root: The dataset directory.
        data_prefix: Directory that ``file_name`` is relative to; defaults to ``data_root``.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self, ann_file: str, data_root: str = '', data_prefix: str = '', **kwargs):
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        annotations = self._read_annotations()
        try:
            categories = sorted(annotations['categories'], key=lambda c: c['id'])
            label_of = {c['id']: label for label, c in enumerate(categories)}
            names = tuple(str(c.get('name', c['id'])) for c in categories)
            label_of_image = {}
            for ann in annotations['annotations']:
                if ann['category_id'] not in label_of:
                    raise ValueError(f'{self.ann_file}: annotation {ann.get("id")} has '
                                     f'category_id {ann["category_id"]}, which is not in '
                                     f'"categories"')
                label_of_image[ann['image_id']] = label_of[ann['category_id']]
            images = [(image['id'], image['file_name']) for image in annotations['images']]
        except (KeyError, TypeError) as e:
            missing = f'lacks the field {e}' if isinstance(e, KeyError) else f'is malformed: {e}'
            raise ValueError(f'{self.ann_file} is not an iNaturalist annotation file: an entry '
                             f'{missing}') from e

        if self.CLASSES is None:
            self._metainfo['classes'] = names
        elif len(self.CLASSES) != len(names):
            raise ValueError(f'{self.ann_file} has {len(names)} categories but '
                             f'{len(self.CLASSES)} classes were given')
        data_list = []
        for image_id, file_name in images:
            if image_id not in label_of_image:
                raise ValueError(f'{self.ann_file}: image {image_id} ({file_name}) has no '
                                 f'annotation; only the labelled splits are supported')
            data_list.append(dict(img_path=fileio.join_path(self.img_prefix, file_name),
                                  gt_label=label_of_image[image_id]))
        return data_list

    def _read_annotations(self) -> dict:
        if not fileio.exists(self.ann_file):
            raise FileNotFoundError(f'iNaturalist 2018 annotation file {self.ann_file} not found')
        try:
            annotations = json.loads(fileio.get_text(self.ann_file))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'{self.ann_file} is not a valid JSON annotation file: {e}') from e
        missing = [key for key in ('images', 'annotations', 'categories')
                   if not isinstance(annotations, dict) or key not in annotations]
        if missing:
            raise ValueError(f'{self.ann_file} is not an iNaturalist annotation file: '
                             f'it has no {missing}')
        return annotations
