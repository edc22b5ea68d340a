"""SyncBatchNorm in a config, turned into BatchNorm for process groups without GPUs.

SyncBN layers (e.g. mmseg's UPerNet heads) only run on GPUs: PyTorch's DDP refuses to wrap
them on the CPU. On such machines :class:`mim_scaling.engine.Runner` calls
:func:`sync_bn_to_bn` for distributed runs
(:func:`~mim_scaling.engine.config.process_group.use_gloo_without_gpu`), so that a CPU run
(a smoke test, a debugging session) trains with per-process BatchNorm instead of stopping;
on GPUs nothing changes.
"""
from typing import List

from mmengine.config import Config

__all__ = ['SYNC_BN_TYPES', 'sync_bn_to_bn']

#: Norm types of mmcv's registry that build a synchronised BatchNorm.
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN')


def _convert(node, path: str, changed: List[str]) -> None:
    if isinstance(node, dict):
        if node.get('type') in SYNC_BN_TYPES:
            node['type'] = 'BN'
            changed.append(path)
        for key, value in node.items():
            _convert(value, f'{path}.{key}', changed)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _convert(value, f'{path}[{i}]', changed)


def sync_bn_to_bn(cfg: Config) -> List[str]:
    """Replaces every SyncBN norm config in ``cfg.model`` by ``BN`` and drops
    ``cfg.sync_bn`` (mmengine's switch that converts BatchNorm to SyncBatchNorm); returns
    the config fields it changed."""
    changed: List[str] = []
    if cfg.get('model') is not None:
        _convert(cfg.model, 'model', changed)
    if cfg.get('sync_bn'):
        cfg.sync_bn = None
        changed.append('sync_bn')
    return changed
