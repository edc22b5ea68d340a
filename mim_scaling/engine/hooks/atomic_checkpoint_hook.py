"""Checkpoints a long run can always resume from, exactly."""
import os
import os.path as osp

import torch
from mmengine.dist import all_gather_object, is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from mim_scaling.registry import HOOKS
from mim_scaling.utils import capture_random_states, restore_random_states
from ..checkpointing.atomic_local_backend import ATOMIC_LOCAL_BACKEND, AtomicLocalBackend
from ..checkpointing.integrity import TMP_SUFFIX, write_text_atomically
from ..optimizers.finite_loss_optim_wrapper import NonFiniteError, last_checkpoint_note

__all__ = ['AtomicCheckpointHook']


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), made safe to resume from.

    - Each checkpoint and ``last_checkpoint`` is written to a temporary name, flushed to
      the disk and renamed into place (on local disks, through
      :class:`~mim_scaling.engine.checkpointing.atomic_local_backend.AtomicLocalBackend`;
      other backends write as mmengine does), so a kill while saving never leaves a
      truncated file under the real name.
    - The oldest checkpoint beyond ``max_keep_ckpts`` is removed only once the new one and
      ``last_checkpoint`` are in place (mmengine removes it first).
    - Weights that are not finite are never saved: the run stops with
      :class:`~mim_scaling.engine.NonFiniteError` naming the last checkpoint, which the
      rotation has not touched.
    - The random states of every rank (Python, numpy, torch, CUDA) are saved in
      ``meta['random_states']`` and, when the run is resumed, restored just before its
      first iteration, so stochastic depth and the like continue their streams.

    ``save_best`` checkpoints are written the same way, and the previous best is removed
    only once the new one is in place (mmengine removes it first).

    Besides mmengine's public extension points (a registered file backend, the hook's
    ``backend_args`` and ``file_backend``), the hook overrides one private method,
    ``CheckpointHook._save_checkpoint_with_step``, through which mmengine's periodic and
    best saves write the periodic checkpoint (and :class:`PreemptionCheckpointHook` the
    checkpoint of the iteration it stops after); ``tests/engine/hooks/
    test_atomic_checkpoint_hook.py`` fails when mmengine changes what this relies on.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._atomic = False
        self._resumed_states = None
        self._resumed_iter = None

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if self._atomic:  # mmengine's saves and removals go through the atomic backend
            self.backend_args = dict(backend=ATOMIC_LOCAL_BACKEND)
            self.file_backend = AtomicLocalBackend()
        if self._atomic and is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.endswith('.pth' + TMP_SUFFIX):  # from a save that was killed
                    os.remove(osp.join(self.out_dir, name))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        states = meta.get('random_states')
        self._resumed_states = None
        if states is None:
            return
        if len(states) != runner.world_size:
            runner.logger.warning(
                f'The checkpoint holds the random states of {len(states)} ranks and this run '
                f'has {runner.world_size}: they are not restored, so the resumed run does not '
                'repeat the random draws of an uninterrupted one.')
            return
        self._resumed_states = states[runner.rank]
        self._resumed_iter = meta.get('iter')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._resumed_states is None:
            return
        if runner.iter == self._resumed_iter:  # resumed, not merely loaded (load_from)
            restore_random_states(self._resumed_states)
        self._resumed_states = None

    def _check_finite_weights(self, runner, step: int) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        tensors = {name: value for name, value in model.state_dict().items()
                   if value.is_floating_point()}
        finite = [torch.isfinite(value).all() for value in tensors.values()]
        if not finite or all(torch.stack(finite).tolist()):  # one synchronisation
            return
        bad = [name for name, value in tensors.items() if not torch.isfinite(value).all()]
        raise NonFiniteError(
            f'The weights are not finite after iteration {runner.iter + 1} ({len(bad)} '
            f'tensors, e.g. {", ".join(bad[:3])}): {self.filename_tmpl.format(step)} was not '
            f'saved and no checkpoint was removed. {last_checkpoint_note()}')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self._atomic:
            super()._save_best_checkpoint(runner, metrics)
            return
        # mmengine's own rules decide what is best, and save it through the atomic backend;
        # its removal of the previous best waits until the new best is in place.
        with self.file_backend.removals_deferred() as replaced:
            super()._save_best_checkpoint(runner, metrics)
        current = {getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in replaced:
            if path not in current and osp.isfile(path):
                os.remove(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        self._check_finite_weights(runner, step)
        # Every rank takes part (the save itself is rank 0's).
        meta = dict(meta, random_states=all_gather_object(capture_random_states()))
        if not self._atomic:
            super()._save_checkpoint_with_step(runner, step, meta)
            return

        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old_step in outdated:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(path):
                os.remove(path)
