from .imagenet_robustness import ImageNetA, ImageNetR, ImageNetSketch
from .inat2018 import INaturalist2018
from .sample_seeding import SampleSeededDataset, SeededIndex
from .samplers import ResumableInfiniteSampler
from .skip_unreadable import SkipUnreadableImages, apply_skip_unreadable_images
from .transforms import *  # noqa: F401,F403
from .worker_init import with_worker_init, worker_init_fn

__all__ = ['ImageNetA', 'ImageNetR', 'ImageNetSketch', 'INaturalist2018', 'SkipUnreadableImages',
           'apply_skip_unreadable_images', 'ResumableInfiniteSampler', 'SampleSeededDataset',
           'SeededIndex', 'with_worker_init', 'worker_init_fn']
