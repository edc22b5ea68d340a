"""The top-level keys a mim_scaling config may hold beyond mmengine's, and what applies each.

:data:`PACKAGE_KEYS` is the one list of them. :class:`mim_scaling.engine.Runner` applies
its entries, in order, to a copy of the config before anything is built
(:func:`~mim_scaling.engine.config.rewrite.rewrite_config`), and the key check
(:mod:`~mim_scaling.engine.config.unknown_keys`) reads its names and sub-keys: a key
missing here is neither applied nor known, so it cannot be half-supported.
"""
import dataclasses
from typing import Callable, Dict, Optional, Tuple

from mmengine.config import Config

from mim_scaling.datasets import apply_skip_unreadable_images
from .gpu_data_path import apply_decode_on_device
from .memory_saving import MEMORY_SAVING_KEYS, apply_memory_saving
from .tensorboard import add_tensorboard

__all__ = ['PackageKey', 'PACKAGE_KEYS']


@dataclasses.dataclass(frozen=True)
class PackageKey:
    """A top-level key of this package: what it does, the function that rewrites a config
    (in place) to carry it out, and the keys its value takes when it is a dict."""

    means: str
    apply: Optional[Callable[[Config], None]]  # None: read where ``means`` says
    sub_keys: Tuple[str, ...] = ()


PACKAGE_KEYS: Dict[str, PackageKey] = {
    'memory_saving': PackageKey(
        'activation checkpointing, bf16 autocast and ZeRO-1 (SwinV2-H/g)',
        apply_memory_saving, MEMORY_SAVING_KEYS),
    'skip_unreadable_images': PackageKey(
        'an unreadable training image is replaced by another and reported',
        apply_skip_unreadable_images),
    # After the skipping wrapper: the GPU path's preprocessor skips too when it is on.
    'decode_on_device': PackageKey(
        'JPEG decoding, crops and flips of pre-training on the GPU', apply_decode_on_device),
    'tensorboard': PackageKey('TensorBoard events next to the json logs', add_tensorboard),
    'check_config_keys': PackageKey(
        'False: unknown keys are not refused (mim_scaling.engine.config.check_config)', None),
}
