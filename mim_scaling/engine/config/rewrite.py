"""A config rewritten into mmengine's own keys: what :class:`mim_scaling.engine.Runner`
builds instead of the config as written."""
from typing import List

from mmengine.config import Config

from mim_scaling.utils.config_types import add_custom_hook
from .errors import ConfigError
from .package_keys import PACKAGE_KEYS
from .process_group import use_gloo_without_gpu

__all__ = ['rewrite_config']


def rewrite_config(cfg: Config) -> List[str]:
    """Carries out, in place, the package's keys (:data:`~.package_keys.PACKAGE_KEYS`, in
    its order), the hooks of every run, the eager optimizer update under ``compile`` and,
    distributed without a GPU, gloo. Returns notes for the run's log; raises
    :class:`~mim_scaling.engine.config.errors.ConfigError` with what it could not carry out.

    Idempotent: a config rewritten before (e.g. the one a run dumps into its work dir)
    comes out the same. It does not check the config: the Runner runs
    :func:`~mim_scaling.engine.config.checks.check_config` first.
    """
    notes = use_gloo_without_gpu(cfg)
    problems: List[str] = []
    for entry in PACKAGE_KEYS.values():
        if entry.apply is None:
            continue
        try:
            entry.apply(cfg)
        except ConfigError as error:
            problems += error.problems
    if cfg.get('compile'):
        # mmengine compiles model.train_step; the optimizer update must stay eager.
        add_custom_hook(cfg, dict(type='mim_scaling.EagerOptimizerUpdateHook'))
    # Every checkpoint records the backbone's pre-training windows.
    add_custom_hook(cfg, dict(type='mim_scaling.PretrainedWindowsHook'))
    # SIGTERM / SIGUSR1 stop the run with a checkpoint of its iteration (README, Long runs).
    add_custom_hook(cfg, dict(type='mim_scaling.PreemptionCheckpointHook'))
    if problems:
        raise ConfigError(problems, cfg.filename)
    return notes
