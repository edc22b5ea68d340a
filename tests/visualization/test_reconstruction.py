"""The reconstruction figure: original, masked input, the zero prediction, then the models'
reconstructions, each keeping the visible pixels and filling the masked cells."""
import pytest
import torch
from PIL import Image

from mim_scaling.visualization import reconstruction_panels, save_reconstruction_figure


def figure_inputs():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    masks = torch.zeros(2, 2, 2)
    masks[:, 0, 1] = 1  # the top-right 32-px cell of each image
    zero = torch.full_like(images, 0.25)
    return images, masks, zero


def test_panels_fill_only_the_masked_cells():
    images, masks, zero = figure_inputs()
    original, masked, filled = reconstruction_panels(images, masks, zero)
    assert torch.equal(original, images)
    assert torch.equal(masked[..., :32, 32:], torch.full((2, 3, 32, 32), 0.5))
    assert torch.equal(filled[..., :32, 32:], zero[..., :32, 32:])
    for panel in (masked, filled):  # the visible pixels as they are
        assert torch.equal(panel[..., 32:, :], images[..., 32:, :])
        assert torch.equal(panel[..., :32, :32], images[..., :32, :32])


def test_figure_has_a_zero_prediction_column_before_each_model(tmp_path):
    images, masks, zero = figure_inputs()
    out = save_reconstruction_figure(images, masks, zero, [images, 1 - images],
                                     tmp_path / 'r.png', titles=['10%', '100%'])
    with Image.open(out) as image:  # 2 rows of 5 square panels
        assert image.size[0] / image.size[1] == pytest.approx(5 / 2, rel=0.01)
    with pytest.raises(ValueError, match='1 titles for 2 reconstructions'):
        save_reconstruction_figure(images, masks, zero, [images, images], tmp_path / 'x.png',
                                   titles=['one'])
