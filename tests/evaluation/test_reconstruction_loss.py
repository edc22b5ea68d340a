"""ReconstructionLoss: the validation loss, the loss of predicting zero on the same images
and masks, and the gain over it, each logged as the latest validation gives it
(tests/models/algorithms/test_simmim.py computes them through SimMIM.predict by hand)."""
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner import LogProcessor

from mim_scaling.evaluation import ReconstructionLoss

ROOT = Path(__file__).parents[2]


def evaluate(*losses):
    metric = ReconstructionLoss()
    metric.process(None, [dict(reconstruction_loss=torch.tensor(loss),
                               zero_prediction_loss=torch.tensor(zero))
                          for loss, zero in losses])
    return metric.evaluate(len(losses))


def test_gain_is_taken_from_the_two_means():
    # Samples' gains 0.5, 0.25 and 0: their mean would be 0.25; the means give 1 - 2/3.
    metrics = evaluate((0.5, 1.0), (1.5, 2.0), (0.0, 0.0))
    assert metrics == pytest.approx({'reconstruction/loss': 2 / 3,
                                     'reconstruction/zero_prediction_loss': 1.0,
                                     'reconstruction/gain': 1 / 3})


def test_a_model_that_predicts_zero_gains_nothing_and_a_worse_one_loses():
    assert evaluate((0.7, 0.7), (0.6, 0.6))['reconstruction/gain'] == pytest.approx(0)
    assert evaluate((0.9, 0.6))['reconstruction/gain'] == pytest.approx(-0.5)


def test_without_a_target_to_predict_there_is_no_gain():
    # Flat images: the normalised target is zero everywhere, both losses are 0.
    assert math.isnan(evaluate((0.0, 0.0))['reconstruction/gain'])


def test_the_pretraining_runtime_logs_each_validation_as_it_is():
    """mmengine averages the logged values of every key containing 'loss' over the last
    ``window_size`` logs; validations must be logged as they are, not mixed with earlier
    ones."""
    cfg = Config.fromfile(ROOT / 'configs/_base_/default_runtime_pretrain.py')
    hub = MessageHub.get_instance('test_the_pretraining_runtime_logs_each_validation')
    validations = [{'reconstruction/loss': 0.70, 'reconstruction/zero_prediction_loss': 0.69,
                    'reconstruction/gain': -0.01},
                   {'reconstruction/loss': 0.50, 'reconstruction/zero_prediction_loss': 0.60,
                    'reconstruction/gain': 1 / 6}]
    runner = SimpleNamespace(message_hub=hub, iter=200, val_loop=SimpleNamespace(dataloader=[0]))
    for metrics in validations:  # what RuntimeInfoHook does after each validation
        for key, value in metrics.items():
            hub.update_scalar(f'val/{key}', value)
    logged, _ = LogProcessor(**cfg.log_processor).get_log_after_epoch(runner, 1, 'val')
    assert {key: logged[key] for key in validations[-1]} == pytest.approx(validations[-1])
    # Without the runtime's custom_cfg the losses would be averages over both validations.
    default, _ = LogProcessor(by_epoch=False).get_log_after_epoch(runner, 1, 'val')
    assert default['reconstruction/zero_prediction_loss'] == pytest.approx(0.645)
