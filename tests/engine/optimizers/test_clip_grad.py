"""clip_grad_norm_ gives torch.nn.utils.clip_grad_norm_'s result, and writes nothing when
the gradients need no clipping."""
import math

import pytest
import torch

from mim_scaling.engine.optimizers import FiniteLossOptimWrapper
from mim_scaling.engine.optimizers.clip_grad import clip_grad_norm_


def params_with_grads(scale):
    generator = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.zeros(shape)) for shape in ((3, 4), (5, ), (2, 2, 2))]
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator) * scale
    return params


@pytest.mark.parametrize('scale', [0.01, 1.0, 100.0, math.inf])
def test_same_gradients_and_norm_as_torch(scale):
    ours, theirs = params_with_grads(scale), params_with_grads(scale)
    norm = clip_grad_norm_(ours, max_norm=5.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=5.0)
    torch.testing.assert_close(norm, expected, equal_nan=True, rtol=0, atol=0)
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad, equal_nan=True, rtol=0, atol=0)


def test_gradients_within_the_norm_are_not_written():
    params = params_with_grads(0.01)
    versions = [p.grad._version for p in params]
    assert clip_grad_norm_(params, max_norm=5.0) < 5.0
    assert [p.grad._version for p in params] == versions


def test_gradients_above_the_norm_are_scaled_to_it():
    params = params_with_grads(100.0)
    clip_grad_norm_(params, max_norm=5.0)
    assert torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params])) == \
        pytest.approx(5.0, rel=1e-5)


def test_the_finite_loss_wrapper_clips_with_it():
    model = torch.nn.Linear(2, 2)
    wrapper = FiniteLossOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                     clip_grad=dict(max_norm=1.0))
    assert wrapper.clip_func is clip_grad_norm_
    wrapper = FiniteLossOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                     clip_grad=dict(type='value', clip_value=1.0))
    assert wrapper.clip_func is torch.nn.utils.clip_grad_value_
