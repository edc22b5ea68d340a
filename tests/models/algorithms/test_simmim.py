"""SimMIM as the reference code computes it: masked encoder, 1x1-conv + PixelShuffle decoder,
L1 loss on masked pixels against the sliding-window normalised target."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mim_scaling.evaluation import ReconstructionLoss
from mim_scaling.registry import MODELS

ROOT = Path(__file__).parents[3]
TINY = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])


def build_tiny_simmim(img_size=64, normalised_target=True):
    cfg = Config.fromfile(ROOT / 'configs/pretrain/simmim_swinv2-b_125k_in1k.py')
    init_default_scope('mmpretrain')
    cfg.model.backbone.update(arch=TINY, img_size=img_size, window_size=4)
    cfg.model.neck.in_channels = 16 * 8
    if not normalised_target:  # the target is then the (ImageNet-normalised) input itself
        cfg.model.pop('target_generator')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def plain_normalised_target(x: torch.Tensor, k: int = 47) -> torch.Tensor:
    """The reference: mean/unbiased variance over the k x k window, padding not counted."""
    x = x.double()
    mean = F.avg_pool2d(x, k, 1, k // 2, count_include_pad=False)
    mean_sq = F.avg_pool2d(x * x, k, 1, k // 2, count_include_pad=False)
    n = F.avg_pool2d(torch.ones_like(x[:, :1]), k, 1, k // 2, count_include_pad=True) * k * k
    var = ((mean_sq - mean**2) * n / (n - 1)).clamp(min=0)
    return ((x - mean) / torch.sqrt(var + 1e-6)).float()


def batch(n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=g)
    cells = (size // 32) ** 2
    masks = torch.zeros(n, cells)
    for m in masks:  # ceil(0.6 * cells) random 32-px cells of each image, as SimMIM masks
        m[torch.randperm(cells, generator=g)[:int(np.ceil(0.6 * cells))]] = 1
    masks = masks.view(n, size // 32, size // 32)
    masks = masks.repeat_interleave(8, 1).repeat_interleave(8, 2)  # on the 4-px token grid
    samples = []
    for m in masks:
        sample = DataSample()
        sample.set_field(m, 'mask')
        samples.append(sample)
    return inputs, samples, masks


def test_loss_is_l1_on_masked_pixels_of_the_normalised_target():
    torch.manual_seed(0)
    model = build_tiny_simmim().eval()
    inputs, samples, masks = batch()
    with torch.no_grad():
        loss = model.loss(inputs, samples)['loss']
        pred = model.neck(model.backbone(inputs, masks)[0])
    assert pred.shape == inputs.shape  # PixelShuffle(32) back to the input size
    target = plain_normalised_target(inputs)
    pixel_mask = masks.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None]
    expected = ((pred - target).abs() * pixel_mask).sum() / (pixel_mask.sum() + 1e-5) / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_predict_gives_each_samples_loss_and_a_reconstruction():
    torch.manual_seed(0)
    model = build_tiny_simmim().eval()
    inputs, samples, masks = batch(n=3)
    with torch.no_grad():
        batch_loss = model.loss(inputs, samples)['loss']
        predicted = model(inputs, samples, mode='predict')
    losses = torch.stack([s.reconstruction_loss for s in predicted])
    # Every sample masks the same number of pixels, so the mean is the batch loss.
    assert len({int(m.sum()) for m in masks}) == 1
    assert losses.mean().item() == pytest.approx(batch_loss.item(), rel=1e-5)
    assert all(s.reconstruction.shape == (3, 64, 64) for s in predicted)
    assert torch.isfinite(losses).all() and (losses > 0).all()


def test_zero_prediction_loss_and_gain_on_a_hand_computed_case():
    """The input as target, a decoder that predicts 0.5 everywhere, the top-left 32-px cell
    masked. The first image hides 1s there, the second 2s: the model's L1 on masked pixels
    is 0.5 and 1.5, predicting zero gives 1 and 2. The validation means are 1.0 and 1.5,
    so the gain is 1 - 1.0 / 1.5 = 1/3 (the mean of the samples' gains, 0.5 and 0.25,
    would be 0.375)."""
    model = build_tiny_simmim(normalised_target=False).eval()
    conv = model.neck.decoder[0]
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.constant_(conv.bias, 0.5)
    inputs = torch.randn(2, 3, 64, 64)  # visible pixels: anything, they do not count
    inputs[0, :, :32, :32] = 1.0
    inputs[1, :, :32, :32] = 2.0
    mask = torch.zeros(16, 16)  # on the 4-px token grid
    mask[:8, :8] = 1
    samples = [DataSample(mask=mask.clone()) for _ in range(2)]
    with torch.no_grad():
        predicted = model(inputs, samples, mode='predict')
    losses = [s.reconstruction_loss.item() for s in predicted]
    zero_losses = [s.zero_prediction_loss.item() for s in predicted]
    assert losses == pytest.approx([0.5, 1.5]) and zero_losses == pytest.approx([1.0, 2.0])

    evaluator = Evaluator([ReconstructionLoss()])
    evaluator.process(predicted)
    metrics = evaluator.evaluate(2)
    assert metrics == pytest.approx({'reconstruction/loss': 1.0,
                                     'reconstruction/zero_prediction_loss': 1.5,
                                     'reconstruction/gain': 1 / 3})


def test_zero_prediction_loss_is_the_mean_absolute_target_on_masked_pixels():
    torch.manual_seed(0)
    model = build_tiny_simmim().eval()
    inputs, samples, masks = batch(n=2)
    with torch.no_grad():
        predicted = model(inputs, samples, mode='predict')
    target = plain_normalised_target(inputs)
    pixel_mask = masks.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None].bool()
    for i, sample in enumerate(predicted):
        expected = target[i][pixel_mask[i].expand(3, -1, -1)].abs().mean()
        assert sample.zero_prediction_loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_reconstructions_show_nothing_of_the_masked_pixels():
    """The encoder never sees masked pixels (their tokens are the mask token), so what is
    drawn of its prediction, and of the zero prediction, must not change when they do."""
    torch.manual_seed(0)
    model = build_tiny_simmim().eval()
    inputs, samples, masks = batch(n=2)
    pixel_mask = masks.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None].bool()
    other = torch.where(pixel_mask, 3 + torch.randn_like(inputs), inputs)
    with torch.no_grad():
        first = model(inputs, samples, mode='predict')
        second = model(other, [s.clone() for s in samples], mode='predict')
    for a, b in zip(first, second):
        assert not torch.isclose(a.zero_prediction_loss, b.zero_prediction_loss)
        torch.testing.assert_close(a.reconstruction, b.reconstruction, rtol=0, atol=1e-5)
        torch.testing.assert_close(a.zero_prediction_reconstruction,
                                   b.zero_prediction_reconstruction, rtol=0, atol=1e-5)


def photo_batch(n=4, size=64):
    """Normalised 64-px crops of a real photograph: structure a model can learn to fill in."""
    from skimage import data
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    crops = [F.interpolate(image[None, :, 128 * i:128 * i + 256, 100:356], size=size,
                           mode='bilinear', antialias=True)[0] for i in range(n)]
    return (torch.stack(crops) - mean) / std


def test_a_few_steps_on_one_batch_lower_the_loss():
    torch.manual_seed(0)
    model = build_tiny_simmim().train()
    _, samples, _ = batch(n=4)
    inputs = photo_batch(n=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = model.loss(inputs, samples)['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])


def test_gradients_reach_the_mask_token_only_through_masked_patches():
    torch.manual_seed(0)
    model = build_tiny_simmim().train()
    inputs, samples, _ = batch(n=2)
    for s in samples:
        s.mask = torch.zeros_like(s.mask)
        s.mask[:8, :8] = 1
    model.loss(inputs, samples)['loss'].backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0
