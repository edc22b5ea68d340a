"""A training loop whose resumed runs continue exactly where the interrupted run was."""
import copy
from typing import Dict, List, Optional, Tuple, Union

from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

from mim_scaling.datasets import ResumableInfiniteSampler, SampleSeededDataset
from mim_scaling.registry import LOOPS
from mim_scaling.utils import preserved_random_states
from .batch_change import describe_batch, scale_learning_rates, total_batch, train_batch

__all__ = ['ResumableIterBasedTrainLoop', 'ValidationInterrupted']

INFINITE_SAMPLERS = ('InfiniteSampler', 'mmengine.InfiniteSampler', InfiniteSampler)
# Runtime info of the message hub, saved in every checkpoint: the samples of the stream
# trained on so far, and the batch of the run (see batch_change.train_batch).
SAMPLES_KEY, BATCH_KEY = 'train_samples', 'train_batch'


class ValidationInterrupted(Exception):
    """Raised by a hook during the validation of a training run to end training there
    (a preemption signal): the loop abandons the validation and stops."""


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop``, made to resume exactly and without replaying data.

    - The training set is wrapped in :class:`~mim_scaling.datasets.SampleSeededDataset`
      and sampled by :class:`~mim_scaling.datasets.ResumableInfiniteSampler` (which takes
      the place of an ``InfiniteSampler`` in the config, with the same arguments): each
      sample's crop, flip and mask draw from generators seeded by (seed, pass, index).
    - On resume the sampler starts at the first sample not yet trained on. mmengine's loop
      instead loads and discards every batch already trained on ("Advance dataloader N
      steps"), hours of decoding late in a long run.
    - Checkpoints record how many samples of the stream were trained on and the batch
      (processes, per-GPU batch, gradient accumulation), so a run resumed with another
      number of processes or per-GPU batch continues at the same sample; when the total
      batch changed, the learning rates follow ``auto_scale_lr`` if it is enabled
      (:mod:`~mim_scaling.engine.checkpointing.batch_change`), and the log says what changed.
    - An iteration that sets ``stop_training`` (a preemption signal,
      :class:`~mim_scaling.engine.PreemptionCheckpointHook`) is not followed by validation,
      and a validation that a hook ends with :class:`ValidationInterrupted` ends training;
      the ``after_train_epoch`` and ``after_train`` hooks then run as at any end.
    - Validation runs with the random states of the training process saved and restored, so
      the training stream does not depend on when validation ran; the random states
      themselves travel in checkpoints (:class:`~mim_scaling.engine.AtomicCheckpointHook`).

    The arguments are those of ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if isinstance(dataloader, dict):
            dataloader = self._seeded_dataloader_cfg(runner, dataloader)
        # IterBasedTrainLoop.__init__ would start the workers here, loading batches from
        # the start of the data before a resume could position the sampler.
        BaseLoop.__init__(self, runner, dataloader)
        self._max_iters = int(max_iters)
        if self._max_iters != max_iters:
            raise ValueError(f'train_cfg.max_iters must be an integer, got {max_iters}')
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False  # set by EarlyStoppingHook
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        self.sampler = self._resumable_sampler(self.dataloader)
        self.dataloader_iterator = None  # started by run(), at the resumed position
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)

    @staticmethod
    def _seeded_dataloader_cfg(runner, cfg: Dict) -> Dict:
        cfg = copy.deepcopy(cfg)
        cfg['dataset'] = dict(type=SampleSeededDataset, dataset=cfg['dataset'])
        sampler = cfg.get('sampler')
        if isinstance(sampler, dict) and sampler.get('type') in INFINITE_SAMPLERS:
            sampler['type'] = ResumableInfiniteSampler
        # One base seed for all ranks: the same permutations, and a sample's randomness
        # that does not depend on the number of ranks. (mmengine passes None to the sampler
        # under diff_rank_seed and draws a shared one.)
        seed = runner.cfg.get('randomness', {}).get('seed')
        if isinstance(cfg.get('sampler'), dict) and seed is not None:
            cfg['sampler'].setdefault('seed', seed)
        return cfg

    @staticmethod
    def _resumable_sampler(dataloader: DataLoader):
        sampler = getattr(dataloader.batch_sampler, 'sampler', dataloader.sampler)
        if not hasattr(sampler, 'set_start'):
            raise TypeError(
                f'{ResumableIterBasedTrainLoop.__name__} needs a sampler that can start at a '
                'given position, e.g. train_dataloader.sampler=dict('
                f"type='mim_scaling.ResumableInfiniteSampler'); got {type(sampler).__name__}")
        return sampler

    def _batch(self) -> dict:
        batch_size = self.dataloader.batch_size or self.dataloader.batch_sampler.batch_size
        return train_batch(get_world_size(), batch_size,
                           getattr(self.runner.optim_wrapper, '_accumulative_counts', 1))

    def _resumed_position(self, batch: dict) -> int:
        """The first sample of the stream not yet trained on; logs what changed since the
        checkpoint (processes, per-GPU batch, and the lr when the total batch changed)."""
        hub, logger = self.runner.message_hub, self.runner.logger
        if self._iter == 0:
            return 0
        samples, resumed = hub.get_info(SAMPLES_KEY), hub.get_info(BATCH_KEY)
        samples_per_iter = batch['world_size'] * batch['batch_size']
        if samples is None or resumed is None:
            logger.warning(
                f'The checkpoint does not record how many samples the run had trained on '
                f'(it predates that record): assuming {self._iter} iterations x '
                f'{samples_per_iter}, the samples per iteration of this run.')
            return self._iter * samples_per_iter
        logger.info(f'Resuming at sample {samples} of the training stream '
                    f'(iteration {self._iter}).')
        if resumed == batch:
            return samples
        logger.info(f'The checkpoint was written by a run of {describe_batch(resumed)} '
                    f'samples per step; this run has {describe_batch(batch)}. It continues '
                    f'the same stream of samples from sample {samples}, so none is skipped '
                    'or repeated; max_iters still counts iterations of this run.')
        old_total, new_total = total_batch(resumed), total_batch(batch)
        if old_total != new_total:
            self._follow_total_batch(old_total, new_total)
        return samples

    def _follow_total_batch(self, old_total: int, new_total: int) -> None:
        runner, ratio = self.runner, new_total / old_total
        lr = runner.optim_wrapper.get_lr()
        before = ', '.join(f'{name} {values[0]:.6g}' for name, values in lr.items())
        if not (runner.auto_scale_lr or {}).get('enable', False):
            runner.logger.warning(
                f'The total batch changed from {old_total} to {new_total}; the run keeps the '
                f'learning rate of the checkpoint ({before}). To scale it by {ratio:.6g}, '
                'resume with --auto-scale-lr (auto_scale_lr.enable=True).')
            return
        scale_learning_rates(runner.optim_wrapper, runner.param_schedulers, ratio)
        after = ', '.join(f'{name} {values[0]:.6g}'
                          for name, values in runner.optim_wrapper.get_lr().items())
        runner.logger.info(
            f'The total batch changed from {old_total} to {new_total}: auto_scale_lr scales '
            f'the resumed learning rates and their schedule by {new_total}/{old_total} = '
            f'{ratio:.6g} ({before} -> {after}). This supersedes the scaling of the config\'s '
            'lr logged above, which the checkpoint\'s state replaced.')

    def _start_data_at(self, position: int) -> None:
        self.sampler.set_start(position)
        self.dataloader_iterator = iter(self.dataloader)

    def run(self):
        """Trains from the current iteration (0, or the resumed one) to ``max_iters``."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        batch = self._batch()
        samples = self._resumed_position(batch)
        hub = self.runner.message_hub
        hub.update_info(BATCH_KEY, batch)
        if not self.stop_training:  # a hook may stop the run before its first iteration
            self._start_data_at(samples)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            # Recorded before the iteration's hooks save a checkpoint of it.
            samples += batch['world_size'] * batch['batch_size']
            hub.update_info(SAMPLES_KEY, samples)
            self.run_iter(data_batch)
            if self.stop_training:  # stopped by a preemption signal: no time to validate
                break
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                try:
                    with preserved_random_states():
                        self.runner.val_loop.run()
                except ValidationInterrupted:
                    self.stop_training = True
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
