"""The Runner that every mim_scaling config names: ``runner_type = 'mim_scaling.Runner'``.

Every OpenMMLab ``tools/train.py`` (mmpretrain's, mmdet's, mmseg's, this project's, and so
``mim train``) builds ``RUNNERS.build(cfg)`` when a config has ``runner_type``, which calls
:meth:`Runner.from_cfg`; a few lines of Python may call ``Runner.from_cfg`` themselves. So
what a config promises beyond mmengine's own keys is carried out here, whichever way the
run starts, and a config that cannot be honoured on this machine fails before anything is
built.
"""
import copy
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.device import (get_device, is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.dist import broadcast_object_list, is_distributed
from mmengine.runner import Runner as MMEngineRunner

from mim_scaling.datasets import apply_skip_unreadable_images, with_worker_init
from mim_scaling.registry import RUNNERS
from .checkpoint_integrity import checkpoint_problem, find_resumable_checkpoint
from .decode_on_device import apply_decode_on_device
from .config_checks import ConfigError, find_problems
from .config_keys import unknown_key_problems
from .memory_saving import apply_memory_saving
from .process_group import needs_own_gloo_group, start_gloo_group
from .sync_bn import sync_bn_to_bn

__all__ = ['Runner', 'rewrite_config']


def _has_hook(cfg: Config, name: str) -> bool:
    def hook_name(hook):
        kind = hook.get('type')
        return kind.__name__ if isinstance(kind, type) else str(kind).split('.')[-1]
    return any(hook_name(hook) == name for hook in cfg.get('custom_hooks') or [])


def add_custom_hook(cfg: Config, name: str) -> None:
    """Appends ``mim_scaling.<name>`` to ``cfg.custom_hooks`` unless a hook of that class is
    there already (a config that was rewritten before, e.g. one dumped by a run)."""
    if not _has_hook(cfg, name):
        cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type=f'mim_scaling.{name}')]


def add_tensorboard(cfg: Config) -> None:
    """``tensorboard=True`` adds mmengine's TensorBoard backend to the visualizer, next to
    the json logs; events go to ``<work_dir>/<timestamp>/vis_data/``."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError(['tensorboard=True needs the tensorboard package: '
                           'pip install -e ".[tensorboard]"'], cfg.filename) from None
    # Without a visualizer in the config, the Runner's default one (json scalars).
    visualizer = cfg.get('visualizer') or dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    backends = visualizer.setdefault('vis_backends', [])
    if not any(backend.get('type') == 'TensorboardVisBackend' for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer = visualizer


def _cpu_process_group(cfg: Config) -> List[str]:
    """A distributed run without GPU: gloo, DDP without ``device_ids`` (mmengine's default
    pins the model to device LOCAL_RANK, which fails for CPU modules) and BatchNorm for the
    config's SyncBN (DDP refuses SyncBN on the CPU). Returns notes for the run's log."""
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'  # shown in the log as used
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper.setdefault('device_ids', None)  # a config's own DDP settings, on the CPU
    converted = sync_bn_to_bn(cfg)
    if converted:
        return [f'No GPU: SyncBatchNorm runs on GPUs only, so {", ".join(converted)} '
                'build BatchNorm instead (statistics of each process\'s own batch).']
    return []


def _precision_problems(cfg: Config) -> List[str]:
    """Mixed precision that this machine cannot run, as mmengine would find out only at the
    first iteration (or, for bf16 on an older GPU, never: it autocasts nothing)."""
    wrapper = cfg.get('optim_wrapper') or {}
    kind = str(wrapper.get('type', 'OptimWrapper')).split('.')[-1]
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
    path = cfg.get('load_from')
    # resume='auto' takes the work dir's checkpoint; load_from is only the fallback.
    if cfg.get('resume') in (False, None, 'auto') or path is None or '://' in str(path):
        return []
    problem = checkpoint_problem(path)
    return [f'resume=True cannot resume from load_from={path}: {problem}'] if problem else []


def rewrite_config(cfg: Config) -> List[str]:
    """Turns what ``cfg`` promises into mmengine's own keys, in place; raises
    :class:`~mim_scaling.engine.config_checks.ConfigError` if it cannot work here.

    Idempotent: a config rewritten before (e.g. the one a run dumps into its work dir)
    comes out the same. Returns notes for the run's log.
    """
    typos = unknown_key_problems(cfg)  # refused before the rewrite takes a typo for absent
    if typos:
        raise ConfigError(typos + find_problems(cfg), cfg.filename)
    problems = find_problems(cfg)  # named by the fields as the config wrote them
    distributed = cfg.get('launcher', 'none') != 'none'
    notes = _cpu_process_group(cfg) if distributed and get_device() == 'cpu' else []
    apply_memory_saving(cfg, distributed=distributed)
    apply_skip_unreadable_images(cfg)
    apply_decode_on_device(cfg)  # after the skipping wrapper: it reads skip_unreadable_images
    if cfg.get('tensorboard', False):
        add_tensorboard(cfg)
    if cfg.get('compile'):
        # mmengine compiles model.train_step; the optimizer update must stay eager.
        add_custom_hook(cfg, 'EagerOptimizerUpdateHook')
    # Every checkpoint records the backbone's pre-training windows.
    add_custom_hook(cfg, 'PretrainedWindowsHook')
    # SIGTERM / SIGUSR1 stop the run with a checkpoint of its iteration (README, Long runs).
    add_custom_hook(cfg, 'PreemptionCheckpointHook')

    problems += _precision_problems(cfg) + _resume_problems(cfg)
    if problems:
        raise ConfigError(problems, cfg.filename)
    return notes


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """mmengine's Runner, carrying out the mim_scaling keys of a config.

    - :meth:`from_cfg` refuses misspelt keys (:mod:`~mim_scaling.engine.config_keys`),
      then rewrites a copy of the config (:func:`rewrite_config`): ``memory_saving``
      (activation checkpointing, bf16, ZeRO-1 when distributed),
      ``skip_unreadable_images``, ``decode_on_device`` (the GPU data path),
      ``tensorboard``, the eager optimizer update under ``compile``, the
      :class:`~mim_scaling.engine.hooks.PretrainedWindowsHook` and
      :class:`~mim_scaling.engine.hooks.PreemptionCheckpointHook` of every run, and,
      distributed without a GPU, gloo, DDP without ``device_ids`` and BatchNorm for SyncBN;
      then checks it (:mod:`~mim_scaling.engine.config_checks`, mixed precision
      this machine cannot run, an unreadable checkpoint to resume from).
    - :meth:`setup_env` starts a gloo process group itself where mmengine's ``init_dist``
      would fail (:mod:`~mim_scaling.engine.process_group`).
    - :meth:`build_dataloader`: the workers of every data loader (training, validation,
      test) are killed by the kernel when this process dies (Linux) and ignore the
      preemption signals, which slurm sends to every process of a job (the training
      process stops them itself); then mmengine's seeding.
    - :meth:`load_or_resume`: ``resume='auto'`` (``tools/train.py --resume``), or
      ``resume=True`` without ``load_from`` (other tools' ``--resume``), resumes from the
      newest intact checkpoint of the work dir, not only the one ``last_checkpoint``
      names, the same one on every rank; in a work dir without one it says so and starts
      from the config's ``load_from`` (``'auto'``) or from scratch.

    The arguments are those of mmengine's Runner.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        """Builds a Runner from ``cfg`` (left unchanged), rewritten by
        :func:`rewrite_config`."""
        cfg = copy.deepcopy(cfg) if isinstance(cfg, Config) else Config(copy.deepcopy(cfg))
        notes = rewrite_config(cfg)
        runner = super().from_cfg(cfg)
        for note in notes:
            runner.logger.warning(note)
        return runner

    def setup_env(self, env_cfg: dict) -> None:
        dist_cfg = env_cfg.get('dist_cfg') or {}
        if self.distributed and not is_distributed() and needs_own_gloo_group(dist_cfg):
            start_gloo_group(self.launcher, dist_cfg)  # mmengine's setup_env then finds it
        super().setup_env(env_cfg)

    def build_dataloader(self, dataloader, seed=None, diff_rank_seed=False):
        """mmengine's ``build_dataloader`` (a static method there), with
        :func:`~mim_scaling.datasets.worker_init.worker_init_fn` for the workers of a
        loader built from a config."""
        if isinstance(dataloader, dict):
            signals = [number for hook in self.hooks
                       for number in getattr(hook, 'preemption_signals', ())]
            dataloader = with_worker_init(dataloader, seed, signals)
        return MMEngineRunner.build_dataloader(dataloader, seed, diff_rank_seed)

    def load_or_resume(self) -> None:
        auto = self._resume == 'auto' or (self._resume and self._load_from is None)
        if auto and not self._has_loaded:
            found = self._newest_checkpoint()
            if found is not None:
                self._load_from, self._resume = found, True
            else:
                # Said so: the work dir may be a mistyped one.
                start = (f'from load_from={self._load_from}' if self._load_from is not None
                         else 'from scratch')
                self.logger.warning(f'resume: no checkpoint in {self.work_dir}, starting '
                                    f'{start}')
                self._resume = False
        super().load_or_resume()

    def _newest_checkpoint(self) -> Optional[str]:
        """The newest intact checkpoint of the work dir (newer broken ones are named in the
        log; mmengine would take the one ``last_checkpoint`` names, even if a crash
        truncated it), as rank 0 sees it: every rank resumes from the same one."""
        found = [find_resumable_checkpoint(self.work_dir) if self.rank == 0 else None]
        if self.distributed:
            broadcast_object_list(found)
        return found[0]
