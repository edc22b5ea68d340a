"""mim_scaling.SimMIMLinearDecoder computes mmpretrain's decoder, with its parameters."""
import torch
from mmpretrain.models.necks import SimMIMLinearDecoder as MMPretrainDecoder

from mim_scaling.models.necks import SimMIMLinearDecoder


def test_same_state_dict_outputs_and_gradients_as_mmpretrains():
    torch.manual_seed(0)
    theirs = MMPretrainDecoder(in_channels=64, encoder_stride=8)
    ours = SimMIMLinearDecoder(in_channels=64, encoder_stride=8)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())

    x = torch.randn(2, 64, 3, 5)
    outputs, grads = [], []
    for decoder in (ours, theirs):
        inputs = x.clone().requires_grad_()
        out = decoder(inputs)
        (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
        outputs.append(out)
        grads.append([inputs.grad] + [p.grad for p in decoder.parameters()])
    assert outputs[0].shape == (2, 3, 24, 40)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    for ours_grad, their_grad in zip(*grads):
        torch.testing.assert_close(ours_grad, their_grad, rtol=1e-5, atol=1e-5)
