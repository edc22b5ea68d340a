"""``decode_on_device=True``: a pre-training config turned into the GPU data path.

This is the config half of the GPU data path; the data preprocessor that decodes on the
device is :mod:`mim_scaling.models.data_preprocessors.device_decode`.

The switch (in a config, or ``--cfg-options decode_on_device=True``) turns the training
pipeline of any pre-training config into the GPU data path: the dataloader workers read
each file and draw its crop, flip and mask
(:mod:`mim_scaling.datasets.transforms.encoded_inputs`), and the model's data preprocessor
decodes, crops, resizes, flips and normalises the batch on the device
(:class:`~mim_scaling.models.data_preprocessors.DeviceDecodeDataPreprocessor`). The crop,
flip and mask arguments of the config are kept as they are; validation keeps its CPU
pipeline. :class:`~mim_scaling.engine.Runner` applies it before building
(:mod:`~mim_scaling.engine.config.package_keys`).
"""
from typing import List

from mmengine.config import Config, ConfigDict

from mim_scaling.utils.config_types import type_name
from .errors import ConfigError

__all__ = ['apply_decode_on_device']

# CPU pipeline step -> its GPU data path counterpart (same arguments, same random draws).
WORKER_STEPS = {
    'LoadImageRandomResizedCrop': 'mim_scaling.LoadEncodedRandomResizedCrop',
    'RandomFlip': 'mim_scaling.RandomFlipOnDevice',
    'PackInputs': 'mim_scaling.PackEncodedInputs',
}
UNCHANGED_STEPS = ('SimMIMMaskGenerator', )  # steps that do not touch the pixels
PREPROCESSORS = ('SelfSupDataPreprocessor', 'DeviceDecodeDataPreprocessor')


def _train_pipeline(cfg: Config):
    dataset = cfg.train_dataloader.dataset
    field = 'train_dataloader.dataset'
    while 'pipeline' not in dataset and 'dataset' in dataset:  # through dataset wrappers
        dataset, field = dataset.dataset, field + '.dataset'
    return dataset, field + '.pipeline'


def apply_decode_on_device(cfg: Config) -> None:
    """With ``decode_on_device=True``, rewrites the training pipeline, its collate function
    and the model's data preprocessor for the GPU data path, in place (idempotent).

    Raises :class:`~mim_scaling.engine.config.errors.ConfigError` for a config whose
    training pipeline or data preprocessor the GPU data path cannot stand in for.
    """
    if not cfg.get('decode_on_device', False) or cfg.get('train_dataloader') is None:
        return
    problems: List[str] = []
    dataset, field = _train_pipeline(cfg)
    ours = {type_name(target) for target in WORKER_STEPS.values()}
    pipeline = []
    for i, step in enumerate(dataset.get('pipeline') or []):
        kind = type_name(step.get('type'))
        if kind in WORKER_STEPS:
            step = ConfigDict(step, type=WORKER_STEPS[kind])
        elif kind not in ours and kind not in UNCHANGED_STEPS:
            problems.append(f'{field}[{i}] is {kind}, which the GPU data path has no '
                            f'counterpart for (it replaces {", ".join(WORKER_STEPS)})')
        pipeline.append(step)
    if not any(type_name(step.type) == 'LoadEncodedRandomResizedCrop' for step in pipeline):
        problems.append(f'{field} has no mim_scaling.LoadImageRandomResizedCrop, whose '
                        'decoding the GPU data path moves to the device')
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') or {}
    if type_name(preprocessor.get('type')) not in PREPROCESSORS:
        problems.append(f'model.data_preprocessor is {type_name(preprocessor.get("type"))}; the '
                        'GPU data path replaces SelfSupDataPreprocessor only')
    if problems:
        raise ConfigError([f'decode_on_device=True: {p}' for p in problems], cfg.filename)
    dataset.pipeline = pipeline
    cfg.train_dataloader.collate_fn = dict(type='pseudo_collate')  # files differ in length
    preprocessor.update(type='mim_scaling.DeviceDecodeDataPreprocessor',
                        skip_unreadable=bool(cfg.get('skip_unreadable_images', False)))
