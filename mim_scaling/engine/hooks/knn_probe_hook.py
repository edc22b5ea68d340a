"""The k-NN top-1 of the encoder's frozen features, logged with every validation."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mim_scaling.evaluation.frozen_features import (KNN_HIGH_KEY, KNN_LOW_KEY, KNN_TOP1_KEY,
                                                    KNNResult, build_probe)
from mim_scaling.registry import HOOKS


@HOOKS.register_module()
class KNNProbeHook(Hook):
    """Evaluates the backbone's frozen features by weighted k-NN at every validation, and
    once before the first iteration (the random initialisation of the same seed: the control
    every later value is measured against).

    The top-1 (%) and its 95% interval are logged as ``knn/top1``, ``knn/top1_low`` and
    ``knn/top1_high`` at the iteration, in the scalar logs beside the validation loss
    (``mim_scaling.evaluation.frozen_features`` says what is computed).

    Args:
        bank: Dataset config of the labelled images whose labels vote.
        queries: Dataset config of the held-out labelled images that are classified.
        k, temperature: Of the vote.
        batch_size: Images per forward pass.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before LoggerHook writes the validation

    def __init__(self, bank: dict, queries: dict, k: int = 10, temperature: float = 0.07,
                 batch_size: int = 64) -> None:
        self.bank, self.queries = bank, queries
        self.k, self.temperature, self.batch_size = k, temperature, batch_size
        self._probe = None

    def _evaluate(self, runner) -> KNNResult:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self._probe is None:
            self._probe = build_probe(runner.cfg.model, self.bank, self.queries,
                                      self.batch_size, k=self.k, temperature=self.temperature)
        result = self._probe(model.backbone)
        runner.logger.info(f'k-NN top-1 of the frozen features at iteration {runner.iter}: '
                           f'{result.top1:.2f} (95% interval {result.low:.2f}-'
                           f'{result.high:.2f}, {result.n} images)')
        return result

    @staticmethod
    def _scalars(result: KNNResult) -> dict:
        return {KNN_TOP1_KEY: result.top1, KNN_LOW_KEY: result.low, KNN_HIGH_KEY: result.high}

    def before_train(self, runner) -> None:
        if runner.iter == 0:  # not again when a run resumes
            runner.visualizer.add_scalars(self._scalars(self._evaluate(runner)), step=0)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        if runner._train_loop is None or isinstance(runner._train_loop, dict):
            return  # a test-only run (tools/test.py): nothing to log against
        for key, value in self._scalars(self._evaluate(runner)).items():
            # LoggerHook writes the validation's 'val/' scalars into the logs after this.
            runner.message_hub.update_scalar(f'val/{key}', value)
