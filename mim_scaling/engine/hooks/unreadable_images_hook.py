"""Logs the images that training skipped as unreadable (``skip_unreadable_images=True``)."""
import os.path as osp

from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mim_scaling.datasets.skip_unreadable import SkipUnreadableImages
from mim_scaling.registry import HOOKS


@HOOKS.register_module()
class UnreadableImagesHook(Hook):
    """Counts and names the images :class:`SkipUnreadableImages` (and, on the GPU data path,
    the data preprocessor) skipped, over all ranks.

    Every ``interval`` iterations and at the end of training, each rank collects what its
    dataloader workers reported; rank 0 logs a warning with the number of skipped samples,
    the number of distinct unreadable files and the new ones with their reasons (at most
    ``max_names`` per message), and lists every such file, with its reason, in
    ``unreadable_images.txt`` next to the run's log.

    Args:
        interval (int): Iterations between reports (all ranks gather at these iterations).
        max_names (int): Files named in one log message; the file lists all of them.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50, max_names: int = 20) -> None:
        self.interval = interval
        self.max_names = max_names
        self.skipped = 0
        self.files = {}  # path -> reason, in the order first met

    def before_train(self, runner) -> None:
        self.skipped, self.files = 0, {}
        self.list_file = osp.join(runner.log_dir, 'unreadable_images.txt')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._report(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        self._report(runner, runner.iter)

    def _report(self, runner, iteration: int) -> None:
        dataset = runner.train_dataloader.dataset
        # Other wrappers (e.g. the per-sample seeding of training) keep theirs as .dataset.
        while dataset is not None and not isinstance(dataset, SkipUnreadableImages):
            dataset = getattr(dataset, '__dict__', {}).get('dataset')
        new = dataset.new_reports() if dataset is not None else []
        # The GPU data path (decode_on_device=True) finds files that decode badly in the
        # model's data preprocessor, after the workers read them.
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        preprocessor = getattr(model, 'data_preprocessor', None)
        if hasattr(preprocessor, 'new_reports'):
            new += preprocessor.new_reports()
        new = [report for rank in all_gather_object(new) for report in rank]
        if not new or get_rank() != 0:
            return
        # A file drawn again (another epoch, or as a replacement) is skipped again.
        self.skipped += len(new)
        new_files = {path: reason for path, reason in new if path not in self.files}
        self.files.update(new_files)
        with open(self.list_file, 'a', encoding='utf-8') as f:
            f.writelines(f'{path}\t{reason}\n' for path, reason in new_files.items())
        names = [f'{path}: {reason}' for path, reason in new_files.items()]
        if len(names) > self.max_names:
            names = names[:self.max_names] + [f'and {len(names) - self.max_names} more']
        runner.logger.warning(
            f'Skipped {self.skipped} samples with unreadable images by iteration {iteration}, '
            f'from {len(self.files)} files (all listed in {self.list_file})'
            + (f'; new: {"; ".join(names)}' if names else ''))
        runner.message_hub.update_info('unreadable_images', len(self.files))
