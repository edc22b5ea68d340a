"""The ``memory_saving`` switches of a config, applied to its model and optimizer wrapper.

configs/_base_/memory_ckpt_bf16_zero1.py sets them for SwinV2-H and SwinV2-g. They cannot
be written into ``model`` and ``optim_wrapper`` by that file, because the models' and the
schedules' _base_ files own those keys and mmengine refuses a key that two _base_ files set;
:class:`mim_scaling.engine.Runner` (the configs' ``runner_type``) applies them when it is
built, whichever tool builds it::

    memory_saving = dict(with_cp=True, bf16=True, shard_optimizer=True)

- ``with_cp``: ``model.backbone.with_cp = True`` (activation checkpointing of every block);
- ``bf16``: the forward pass autocast to bfloat16, without loss scaling (bf16 has fp32's
  range): the pre-training schedules' ``FiniteLossOptimWrapper`` becomes
  ``BF16FiniteLossOptimWrapper``, and a plain ``OptimWrapper`` becomes mmengine's
  ``AmpOptimWrapper`` with ``dtype='bfloat16'`` (which needs a GPU); the Runner refuses
  bf16 on a GPU without bfloat16 support;
- ``shard_optimizer``: the config's optimizer wrapped in ``ZeroRedundancyOptimizer``
  (mmengine's and PyTorch's ZeRO stage 1: each rank keeps the optimizer states of its share
  of the parameters), in distributed runs only, with the hook that gathers the shards
  before each checkpoint (``mim_scaling.engine.optimizers.zero_redundancy`` says why).

Misspelt keys are refused with the config's others, before this runs
(:mod:`~mim_scaling.engine.config.unknown_keys`). Applying the switches twice changes
nothing more than applying them once.
"""
from mim_scaling.utils.config_types import add_custom_hook, type_name
from .errors import ConfigError

__all__ = ['MEMORY_SAVING_KEYS', 'apply_memory_saving']

MEMORY_SAVING_KEYS = ('with_cp', 'bf16', 'shard_optimizer')
SHARDED_OPTIMIZER = 'mim_scaling.ZeroRedundancyOptimizer'
# Wrappers with a bf16-autocast twin.
BF16_WRAPPERS = {'mim_scaling.FiniteLossOptimWrapper': 'mim_scaling.BF16FiniteLossOptimWrapper'}


def apply_memory_saving(cfg) -> None:
    """Applies ``cfg.memory_saving`` (if any) to ``cfg.model`` and ``cfg.optim_wrapper``;
    raises :class:`~mim_scaling.engine.config.errors.ConfigError` for an optimizer wrapper
    it cannot autocast to bf16."""
    settings = cfg.get('memory_saving')
    if not settings:
        return
    if not isinstance(settings, dict):
        raise ConfigError([f'memory_saving={settings!r} must be a dict of '
                           f'{", ".join(MEMORY_SAVING_KEYS)} (e.g. memory_saving.with_cp=True)'],
                          cfg.filename)
    if settings.get('with_cp'):
        cfg.model.backbone.with_cp = True
    wrapper = cfg.optim_wrapper
    if settings.get('bf16'):
        kind = wrapper.get('type', 'OptimWrapper')
        if kind in BF16_WRAPPERS:
            wrapper.type = BF16_WRAPPERS[kind]
        elif kind == 'OptimWrapper':
            wrapper.update(type='AmpOptimWrapper', dtype='bfloat16',
                           loss_scale=dict(enabled=False))  # bf16 needs no loss scaling
        elif kind == 'AmpOptimWrapper' and not str(wrapper.get('dtype')).endswith('bfloat16'):
            raise ConfigError(['memory_saving.bf16 asks for bfloat16 autocast and '
                               'optim_wrapper for float16 AmpOptimWrapper (e.g. --amp): drop '
                               'one'], cfg.filename)
        elif kind not in BF16_WRAPPERS.values() and kind != 'AmpOptimWrapper':
            raise ConfigError([f'memory_saving.bf16 does not know how to autocast with '
                               f'optim_wrapper.type={kind!r}'], cfg.filename)
    optimizer = wrapper.optimizer
    distributed = cfg.get('launcher', 'none') != 'none'
    if (settings.get('shard_optimizer') and distributed
            and type_name(optimizer.get('type')) != type_name(SHARDED_OPTIMIZER)):
        inner = dict(optimizer)
        wrapper.optimizer = dict(type=SHARDED_OPTIMIZER, optimizer_type=inner.pop('type'),
                                 **inner)
        add_custom_hook(cfg, dict(type='mim_scaling.ConsolidateOptimizerStateHook'))
