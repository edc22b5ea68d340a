"""The one entry point for the checks of a config: :func:`check_config`.

:class:`mim_scaling.engine.Runner` runs it before it builds anything, whichever tool
builds it, and ``tools/sweep.py`` runs it on every config of a sweep before submitting
any job: a config passes it exactly when the Runner would accept it here.
"""
import copy
from typing import List

import torch
from mmengine.config import Config
from mmengine.device import (get_device, is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.hooks import Hook

from mim_scaling.engine.checkpointing.integrity import checkpoint_problem
from mim_scaling.utils.config_types import type_name
from .errors import ConfigError
from .rewrite import rewrite_config
from .swinv2_geometry import geometry_problems
from .unknown_keys import key_problems

__all__ = ['check_config']


def check_config(cfg, machine_checks: bool = True) -> List[str]:
    """Raises :class:`~mim_scaling.engine.config.errors.ConfigError` naming every problem
    for which :class:`mim_scaling.engine.Runner` would refuse ``cfg`` when it is built;
    returns warnings for the run's log. ``cfg`` is left unchanged and nothing is built.

    ``machine_checks=False`` leaves out the checks that depend on the machine that runs
    this (mixed precision its devices can run): for a config that other machines will run,
    e.g. a sweep submitting from a cluster's login node.

    The problems: hooks that are not dicts; unknown keys
    (:mod:`~mim_scaling.engine.config.unknown_keys`, unless ``check_config_keys=False``);
    SwinV2 sizes and widths that do not fit (:mod:`~mim_scaling.engine.config.swinv2_geometry`);
    the package's keys that cannot be carried out (tried on a copy:
    :func:`~mim_scaling.engine.config.rewrite.rewrite_config`); mixed precision this
    machine cannot run; a checkpoint to resume from that cannot be read.
    """
    cfg = cfg if isinstance(cfg, Config) else Config(cfg)
    problems = _custom_hooks_problems(cfg)
    if problems:  # everything after reads the hooks
        raise ConfigError(problems, cfg.filename)
    warnings: List[str] = []
    if cfg.get('check_config_keys', True):
        problems, warnings = key_problems(cfg)
    problems += geometry_problems(cfg)  # named by the fields as the config wrote them
    if problems:  # a misspelt key would be taken for an absent one below
        raise ConfigError(problems, cfg.filename)
    rewritten = copy.deepcopy(cfg)
    try:
        rewrite_config(rewritten)
    except ConfigError as error:
        problems += error.problems
    if machine_checks:
        problems += _precision_problems(rewritten)
    problems += _resume_problems(rewritten)
    if problems:
        raise ConfigError(problems, cfg.filename)
    return warnings


def _custom_hooks_problems(cfg: Config) -> List[str]:
    """``custom_hooks`` that mmengine could not iterate as hooks, e.g. the string that
    ``--cfg-options custom_hooks=...`` gives for anything but a bracketed list."""
    hooks = cfg.get('custom_hooks')
    if hooks is None:
        return []
    if not isinstance(hooks, (list, tuple)):
        return [f'custom_hooks={hooks!r} must be a list of dicts, each with a type (e.g. '
                "custom_hooks=[dict(type='mim_scaling.LossCurveHook')]); on the command line, "
                '--cfg-options gives a string for anything but key="[a,b]": set it in a '
                'config file instead']
    return [f'custom_hooks[{i}]={hook!r} must be a dict with a type '
            "(e.g. dict(type='mim_scaling.LossCurveHook'))" for i, hook in enumerate(hooks)
            if not isinstance(hook, Hook) and not (isinstance(hook, dict) and 'type' in hook)]


def _precision_problems(cfg: Config) -> List[str]:
    """Mixed precision that this machine cannot run, as mmengine would find out only at the
    first iteration (or, for bf16 on an older GPU, never: it autocasts nothing)."""
    wrapper = cfg.get('optim_wrapper') or {}
    kind = type_name(wrapper.get('type', 'OptimWrapper'))
    from_memory_saving = bool((cfg.get('memory_saving') or {}).get('bf16'))
    if kind == 'AmpOptimWrapper' and not (is_cuda_available() or is_npu_available()
                                          or is_mlu_available() or is_musa_available()):
        cause = 'memory_saving.bf16=True' if from_memory_saving else '--amp'
        return [f"optim_wrapper.type='AmpOptimWrapper' (e.g. from {cause}) autocasts on a "
                'CUDA, NPU, MLU or MUSA device and there is none here; train in fp32 without '
                'it']
    bf16 = kind == 'BF16FiniteLossOptimWrapper' or (
        kind == 'AmpOptimWrapper' and str(wrapper.get('dtype')).endswith('bfloat16'))
    # On the CPU, bf16 autocast is PyTorch's CPU autocast: slower than fp32, but bf16.
    if bf16 and get_device() == 'cuda' and not torch.cuda.is_bf16_supported():
        return [f'{"memory_saving.bf16=True" if from_memory_saving else kind} asks for '
                f'bfloat16 autocast, which the GPU here ({torch.cuda.get_device_name()}) '
                'does not support; set memory_saving.bf16=False to train in fp32']
    return []


def _resume_problems(cfg: Config) -> List[str]:
    """A checkpoint named to resume from (``--resume PATH``) that cannot be read."""
    path = cfg.get('load_from')
    # resume='auto' takes the work dir's checkpoint; load_from is only the fallback.
    if cfg.get('resume') in (False, None, 'auto') or path is None or '://' in str(path):
        return []
    problem = checkpoint_problem(path)
    return [f'resume=True cannot resume from load_from={path}: {problem}'] if problem else []
