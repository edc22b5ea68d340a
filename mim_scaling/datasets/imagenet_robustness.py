"""ImageNet-A, ImageNet-R and ImageNet-Sketch: test sets of ImageNet-1K classes from other
image domains, read in the layout they are released in (one folder per WordNet id).

Labels are ImageNet-1K labels (the position of the WordNet id in ImageNet-1K's sorted list),
so a 1000-way classifier fine-tuned on ImageNet-1K is scored as it is. ImageNet-A and
ImageNet-R hold 200 of the 1000 classes: their ``metainfo['label_subset']`` lists those
labels, and :class:`mim_scaling.ClassSubsetAccuracy` restricts the predictions to them.
"""
from pathlib import Path
from typing import List, Tuple

from mmengine import fileio
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
from mmpretrain.datasets.custom import find_folders, get_samples

from mim_scaling.registry import DATASETS

from .subsets import IMG_EXTENSIONS

CLASS_LISTS = Path(__file__).with_name('class_lists')


def read_wnids(file_name: str) -> Tuple[str, ...]:
    """The WordNet ids of a file in ``class_lists/`` (one per line, ``#`` comments)."""
    lines = (CLASS_LISTS / file_name).read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith('#'))


IMAGENET1K_WNIDS = read_wnids('imagenet1k_wnids.txt')
IMAGENET1K_LABELS = {wnid: label for label, wnid in enumerate(IMAGENET1K_WNIDS)}


def _metainfo(wnids: Tuple[str, ...]) -> dict:
    return {'classes': IMAGENET_CATEGORIES,
            'label_subset': tuple(IMAGENET1K_LABELS[w] for w in wnids)}


class ImageNetVariant(BaseDataset):
    """Images of some ImageNet-1K classes, one folder per WordNet id::

        data_root/<data_prefix>/n01443537/*.jpg
                               n01484850/*.jpg ...

    Folders of the data set's classes may be missing (a warning says how many), other
    folders are an error. ``metainfo``: ``classes``, the 1000 ImageNet-1K names the labels
    index; ``label_subset``, the ImageNet-1K labels of the data set's classes.

    Args:
        data_root: The data set folder.
        data_prefix: The folder of the class folders, relative to ``data_root``.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """
    WNIDS = IMAGENET1K_WNIDS  # the data set's classes; subclasses name theirs
    METAINFO = _metainfo(WNIDS)

    def __init__(self, data_root: str = '', data_prefix: str = '', **kwargs):
        super().__init__(ann_file='', data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        root = self.img_prefix
        if not fileio.isdir(root):
            raise FileNotFoundError(f'{name}: {root} is not a folder; expected one folder '
                                    f'per WordNet id (e.g. {root}/{self.WNIDS[0]}/)')
        folders, _ = find_folders(root)
        foreign = [f for f in folders if f not in self.WNIDS]
        if foreign:
            raise ValueError(f'{name}: {root} has folders that are not classes of the data '
                             f'set: {", ".join(foreign[:5])}{" ..." if len(foreign) > 5 else ""}'
                             f' (expected one folder per WordNet id of its {len(self.WNIDS)} '
                             f'classes)')
        label_of = {wnid: IMAGENET1K_LABELS[wnid] for wnid in folders}
        samples, empty = get_samples(root, label_of,
                                     lambda f: f.lower().endswith(IMG_EXTENSIONS))
        if not samples:
            raise ValueError(f'{name}: no image ({", ".join(IMG_EXTENSIONS)}) in class folders '
                             f'of {root}')
        missing = len(self.WNIDS) - len(folders) + len(empty)
        if missing:
            MMLogger.get_current_instance().warning(
                f'{name}: {missing} of the {len(self.WNIDS)} classes have no images in {root}; '
                f'accuracies are not comparable with those on the full data set')
        return [dict(img_path=fileio.join_path(root, path), gt_label=label)
                for path, label in samples]


@DATASETS.register_module()
class ImageNetA(ImageNetVariant):
    """ImageNet-A (Hendrycks et al., 2021): 7500 natural adversarial photographs of 200
    ImageNet-1K classes, ``imagenet-a/<wnid>/*.jpg`` as released."""
    WNIDS = read_wnids('imagenet_a_wnids.txt')
    METAINFO = _metainfo(WNIDS)


@DATASETS.register_module()
class ImageNetR(ImageNetVariant):
    """ImageNet-R (Hendrycks et al., 2021): 30000 renditions (art, cartoons, sculptures, ...)
    of 200 ImageNet-1K classes, ``imagenet-r/<wnid>/*.jpg`` as released."""
    WNIDS = read_wnids('imagenet_r_wnids.txt')
    METAINFO = _metainfo(WNIDS)


@DATASETS.register_module()
class ImageNetSketch(ImageNetVariant):
    """ImageNet-Sketch (Wang et al., 2019): 50889 sketches of all 1000 ImageNet-1K classes,
    ``sketch/<wnid>/*.JPEG`` as released."""
