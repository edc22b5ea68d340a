"""The Runner that every mim_scaling config names: ``runner_type = 'mim_scaling.Runner'``.

Every OpenMMLab ``tools/train.py`` and ``tools/test.py`` (mmpretrain's, mmdet's, mmseg's,
this project's) builds ``RUNNERS.build(cfg)`` when a config has ``runner_type``, which
calls :meth:`Runner.from_cfg`; a few lines of Python may call ``Runner.from_cfg``
themselves. So what a config promises beyond mmengine's own keys is carried out here,
whichever way the run starts, and a config that cannot be honoured on this machine fails
before anything is built. mmengine's own ``Runner.from_cfg`` ignores ``runner_type``: the
runtime bases of the configs list
:class:`~mim_scaling.engine.hooks.RunnerTypeCheckHook`, which stops such a run.
"""
import copy
import os.path as osp
import signal
from typing import Optional

from mmengine.config import Config
from mmengine.dist import broadcast_object_list, is_distributed
from mmengine.runner import Runner as MMEngineRunner

from mim_scaling.datasets import with_worker_init
from mim_scaling.engine.checkpointing.coverage import check_checkpoint_fits
from mim_scaling.engine.checkpointing.integrity import find_resumable_checkpoint
from mim_scaling.engine.hooks.preemption_checkpoint_hook import (SignalHold,
                                                                 preemption_signals_of,
                                                                 restore_forwarded_signals)
from mim_scaling.registry import RUNNERS
from .checks import check_config
from .process_group import needs_own_gloo_group, start_gloo_group
from .rewrite import rewrite_config

__all__ = ['Runner']


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """mmengine's Runner, carrying out the mim_scaling keys of a config.

    - :meth:`from_cfg` checks the config (:func:`~mim_scaling.engine.config.check_config`:
      unknown keys, SwinV2 sizes and widths, what this machine cannot run), then builds
      from a copy rewritten into mmengine's keys
      (:func:`~mim_scaling.engine.config.rewrite.rewrite_config`: the package's keys of
      :data:`~mim_scaling.engine.config.package_keys.PACKAGE_KEYS`, the hooks of every
      run, and, distributed without a GPU, gloo).
    - :meth:`setup_env` starts a gloo process group itself where mmengine's ``init_dist``
      would fail (:mod:`~mim_scaling.engine.config.process_group`).
    - :meth:`build_dataloader` (static, as mmengine's): the workers of every data loader
      are killed by the kernel when this process dies (Linux) and, for the loaders of a
      Runner, ignore its preemption signals, which slurm sends to every process of a job
      (the training process stops them itself); then mmengine's seeding.
    - :meth:`from_cfg` and :meth:`train` hold the run's preemption signals
      (:class:`~mim_scaling.engine.hooks.preemption_checkpoint_hook.SignalHold`) from the
      start of the build until the PreemptionCheckpointHook takes them over: a signal
      during the build or the checkpoint loading stops the run before its first iteration
      (exit status 75). :meth:`test` and :meth:`val` let such a signal act as it would
      have then.
    - :meth:`load_or_resume`: ``resume='auto'`` (``tools/train.py --resume``), or
      ``resume=True`` without ``load_from`` (other tools' ``--resume``), resumes from the
      newest intact checkpoint of the work dir, not only the one ``last_checkpoint``
      names, the same one on every rank; in a work dir without one it says so and starts
      from the config's ``load_from`` (that of the config file, for other tools, which
      drop it on ``--resume``), or from scratch.
    - :meth:`test` refuses a checkpoint that does not give the model every weight
      (:mod:`~mim_scaling.engine.checkpointing.coverage`): mmengine would evaluate the
      missing part at its random initialisation.

    The arguments are those of mmengine's Runner.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        """Builds a Runner from ``cfg`` (left unchanged): checked, then rewritten."""
        cfg = copy.deepcopy(cfg) if isinstance(cfg, Config) else Config(copy.deepcopy(cfg))
        warnings = check_config(cfg)
        if cfg.get('resume') is True and cfg.get('load_from') is None:
            cfg.resume, cfg.load_from = 'auto', _load_from_of_file(cfg)
        notes = rewrite_config(cfg)
        # A preemption signal during the build waits for training (or test, validation).
        signals = preemption_signals_of(cfg)
        restore_forwarded_signals(signals)
        hold = SignalHold(signals)
        try:
            runner = super().from_cfg(cfg)
        finally:
            hold.release()
        runner.signal_during_build = hold.received
        for note in warnings + notes:
            runner.logger.warning(note)
        return runner

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The loops build their data loaders through the instance: with this run's signals.
        self.build_dataloader = self._build_dataloader_ignoring_signals
        self.signal_during_build, self.signal_hold = None, None

    def train(self):
        # A preemption signal before training starts (one during the build, or during the
        # checkpoint loading) is the PreemptionCheckpointHook's to act on in before_train.
        self.signal_hold = SignalHold(self._preemption_signals(), self.signal_during_build)
        try:
            return super().train()
        finally:
            self.signal_hold.release()  # nothing left to release once the hook took over
            self.signal_hold = None

    def val(self) -> dict:
        self._deliver_signal_during_build()
        return super().val()

    def _deliver_signal_during_build(self) -> None:
        """A preemption signal that arrived during the build of a run that does not train
        does what it would have done then."""
        if self.signal_during_build is not None:
            signal.raise_signal(self.signal_during_build)
            self.signal_during_build = None

    def _preemption_signals(self):
        return [number for hook in self.hooks
                for number in getattr(hook, 'preemption_signals', ())]

    def setup_env(self, env_cfg: dict) -> None:
        dist_cfg = env_cfg.get('dist_cfg') or {}
        if self.distributed and not is_distributed() and needs_own_gloo_group(dist_cfg):
            start_gloo_group(self.launcher, dist_cfg)  # mmengine's setup_env then finds it
        super().setup_env(env_cfg)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False, ignored_signals=()):
        """mmengine's ``build_dataloader``, with
        :func:`~mim_scaling.datasets.worker_init.worker_init_fn` for the workers of a
        loader built from a config, which ignore ``ignored_signals``."""
        if isinstance(dataloader, dict):
            dataloader = with_worker_init(dataloader, seed, ignored_signals)
        return MMEngineRunner.build_dataloader(dataloader, seed, diff_rank_seed)

    def _build_dataloader_ignoring_signals(self, dataloader, seed=None, diff_rank_seed=False):
        return Runner.build_dataloader(dataloader, seed, diff_rank_seed,
                                       self._preemption_signals())

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

    def test(self) -> dict:
        self._deliver_signal_during_build()
        if self._load_from is not None and not self._has_loaded:
            # mmengine loads what matches and evaluates the rest at random initialisation.
            check_checkpoint_fits(self.model, self._load_from)
        return super().test()

    def _newest_checkpoint(self) -> Optional[str]:
        """The newest intact checkpoint of the work dir (newer broken ones are named in the
        log; mmengine would take the one ``last_checkpoint`` names, even if a crash
        truncated it), as rank 0 sees it: every rank resumes from the same one."""
        found = [find_resumable_checkpoint(self.work_dir) if self.rank == 0 else None]
        if self.distributed:
            broadcast_object_list(found)
        return found[0]


def _load_from_of_file(cfg: Config) -> Optional[str]:
    """The ``load_from`` of the file ``cfg`` was read from: what mmpretrain's and mmdet's
    ``tools/train.py --resume`` set to None (this project's keeps it as the start of a run
    with nothing to resume)."""
    if not cfg.filename or not osp.isfile(cfg.filename):
        return None
    return Config.fromfile(cfg.filename).get('load_from')
