"""Skipping unreadable images instead of stopping a run: ``skip_unreadable_images=True``.

By default an unreadable image stops training with an :class:`UnreadableImageError` that
names it. Among millions of images a few corrupt ones are to be expected, so a config may
say ``skip_unreadable_images = True`` (or ``--cfg-options skip_unreadable_images=True``):
:func:`apply_skip_unreadable_images` then wraps the training set in
:class:`SkipUnreadableImages` and adds :class:`~mim_scaling.engine.hooks.UnreadableImagesHook`,
which logs how many images were skipped and which. Validation and test sets are never
wrapped: a metric over a silently different set would not compare.
"""
import os
import tempfile
import weakref
from typing import List, Tuple, Union

import numpy as np
from mmengine.config import Config, ConfigDict

from mim_scaling.registry import DATASETS
from mim_scaling.utils.config_types import add_custom_hook
from .dataset_wrapper import DatasetWrapper
from .transforms.image_errors import UnreadableImageError

WRAPPER = 'mim_scaling.SkipUnreadableImages'
HOOK = 'mim_scaling.UnreadableImagesHook'


def _remove_own_file(path: str, owner: int) -> None:
    if os.getpid() == owner and os.path.exists(path):
        os.remove(path)


@DATASETS.register_module()
class SkipUnreadableImages(DatasetWrapper):
    """Dataset wrapper that replaces a sample whose image cannot be read by another one.

    It catches exactly :class:`UnreadableImageError` (any other error still stops the run)
    and draws another index from numpy's global generator, as mmengine's datasets do when
    a pipeline drops a sample. Each skipped file is appended as one line to a report file
    that the dataloader workers of a process share (one short ``O_APPEND`` write per line,
    so lines never interleave); :meth:`new_reports` reads what is new, for the hook. Other
    attributes are those of the wrapped dataset (:class:`DatasetWrapper`).

    Args:
        dataset (dict | Dataset): The dataset, or its config.
        max_tries (int): Unreadable draws in a row for one sample before giving up: when
            nothing can be read, the data root is wrong rather than a few files corrupt.
    """

    def __init__(self, dataset: Union[dict, object], max_tries: int = 100) -> None:
        super().__init__(dataset)
        self.max_tries = max_tries
        fd, self.report_file = tempfile.mkstemp(prefix='mim_scaling_unreadable_',
                                                suffix='.tsv')
        os.close(fd)
        self._read_offset = 0
        weakref.finalize(self, _remove_own_file, self.report_file, os.getpid())

    def __getitem__(self, idx: int):
        for _ in range(self.max_tries):
            try:
                return self.dataset[idx]
            except UnreadableImageError as error:
                last = error
                self._report(error)
                idx = np.random.randint(0, len(self))
        raise RuntimeError(
            f'SkipUnreadableImages: {self.max_tries} images in a row were unreadable (the last: '
            f'{last}); is the data root right?')

    def _report(self, error: UnreadableImageError) -> None:
        line = f'{error.path}\t{error.reason}'.replace('\n', ' ') + '\n'
        with open(self.report_file, 'a', encoding='utf-8') as f:
            f.write(line)

    def new_reports(self) -> List[Tuple[str, str]]:
        """(path, reason) of each image skipped since the last call, by any worker."""
        with open(self.report_file, 'rb') as f:
            f.seek(self._read_offset)
            data = f.read()
        complete = data[:data.rfind(b'\n') + 1]  # a line being written is read next time
        self._read_offset += len(complete)
        return [tuple(line.split('\t', 1)) for line in complete.decode('utf-8').splitlines()]


def apply_skip_unreadable_images(cfg: Config) -> None:
    """With ``skip_unreadable_images=True``, wrap the training set and add the hook.

    Applied by :class:`mim_scaling.engine.Runner` before it is built
    (:mod:`~mim_scaling.engine.config.package_keys`).
    """
    if not cfg.get('skip_unreadable_images', False) or cfg.get('train_dataloader') is None:
        return
    loader = cfg.train_dataloader
    if loader.dataset.get('type') != WRAPPER:
        loader.dataset = ConfigDict(type=WRAPPER, dataset=loader.dataset)
    add_custom_hook(cfg, ConfigDict(type=HOOK))
