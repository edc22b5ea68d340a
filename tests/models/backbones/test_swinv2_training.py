"""SwinV2 in training: gradients equal timm's, activation checkpointing halves the peak memory
at identical gradients, and torch.compile traces a block in one graph."""
import sys
from pathlib import Path

import pytest
import timm
import torch

from mim_scaling.models.backbones import SwinV2, swinv2
from mim_scaling.models.backbones.swinv2 import SwinV2Block, WindowAttention, shift_mask
from mim_scaling.models.backbones.swinv2_key_mapping import to_backbone_state_dict

sys.path.insert(0, str(Path(__file__).parents[3] / 'tools' / 'benchmarks'))
from benchmark_utils import peak_memory  # noqa: E402

TINY = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize('shifted', [False, True])
def test_cpu_attention_equals_the_sdpa_path_with_gradients(shifted, monkeypatch):
    """fp32 training on the CPU takes a hand-written attention; its output and gradients
    (qkv, temperature, position bias) are those of F.normalize + SDPA through autograd."""
    torch.manual_seed(0)
    attn = randomize_(WindowAttention(dim=32, num_heads=4, window_size=(4, 4)))
    with torch.no_grad():
        attn.logit_scale.copy_(torch.rand(4, 1, 1) * 5)  # some above the clamp at log(100)
    x = torch.randn(2, 4, 16, 32, requires_grad=True)
    mask = shift_mask(8, 8, (4, 4), (2, 2), x.device) if shifted else None
    grad_out = torch.randn(2, 4, 16, 32)
    results = []
    for sdpa in (False, True):
        if sdpa:  # the path of GPUs, of inference and of torch.compile
            monkeypatch.setattr(swinv2, '_use_cpu_attention', lambda qkv: False)
        out = attn(x, mask)
        results.append((out, *torch.autograd.grad(out, [x, *attn.parameters()], grad_out)))
    for ours, reference in zip(*results):  # fp32 sums in another order
        torch.testing.assert_close(ours, reference, atol=1e-5 * reference.abs().max().item(),
                                   rtol=1e-4)


def test_gradients_match_timm():
    """Every parameter's gradient of a training step equals timm's (shifted windows, several
    heads, the CPU attention path)."""
    ref = randomize_(timm.models.swin_transformer_v2.SwinTransformerV2(
        img_size=64, embed_dim=TINY['embed_dims'], depths=TINY['depths'],
        num_heads=TINY['num_heads'], window_size=4, num_classes=0, drop_path_rate=0.))
    ours = SwinV2(arch=TINY, img_size=64, window_size=4, drop_path_rate=0.)
    ours.load_state_dict(to_backbone_state_dict(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64)
    ref.forward_features(x).square().mean().backward()
    ours(x)[0].square().mean().backward()
    expected = to_backbone_state_dict({n: p.grad for n, p in ref.named_parameters()})
    actual = {n: p.grad for n, p in ours.named_parameters()}
    assert actual.keys() == expected.keys()
    for name, grad in actual.items():
        torch.testing.assert_close(grad, expected[name], atol=1e-5, rtol=1e-4, msg=name)


def test_activation_checkpointing_halves_peak_memory_at_identical_gradients():
    torch.manual_seed(0)
    plain = SwinV2(arch=TINY, img_size=128, window_size=8, drop_path_rate=0.).train()
    checkpointed = SwinV2(arch=TINY, img_size=128, window_size=8, drop_path_rate=0.,
                          with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 128, 128)

    def step(model):
        model.zero_grad(set_to_none=True)
        model(x)[0].square().mean().backward()

    memory, grads = [], []
    for model in (plain, checkpointed):
        step(model)  # warm-up: caches of a first call are no step's memory
        memory.append(peak_memory(lambda: step(model)))
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert memory[0] >= 2 * memory[1], f'peak memory {memory[0]} B plain, {memory[1]} B with cp'
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, atol=0, rtol=0, msg=name)


@pytest.mark.parametrize('shift', [(0, 0), (2, 2)])
def test_a_block_compiles_without_graph_breaks(shift):
    block = SwinV2Block(dim=16, num_heads=2, window_size=(4, 4), shift_size=shift,
                        pretrained_window_size=(0, 0), mlp_ratio=4., drop_path=0.1).train()
    x = torch.randn(2, 8, 8, 16, requires_grad=True)
    explanation = torch._dynamo.explain(block)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
