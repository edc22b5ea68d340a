"""ReconstructionVisualizationHook draws images spread through the first validation batch."""
from types import SimpleNamespace

import torch

from mim_scaling.engine.hooks import reconstruction_hook
from mim_scaling.engine.hooks.reconstruction_hook import ReconstructionVisualizationHook


def drawn(monkeypatch, num_images, batch_size):
    """The inputs and outputs the hook hands to display_batch for one batch."""
    seen = {}

    def display_batch(model, inputs, outputs):
        seen.update(inputs=inputs.tolist(), outputs=outputs)
        return ()

    monkeypatch.setattr(reconstruction_hook, 'display_batch', display_batch)
    hook = ReconstructionVisualizationHook(num_images=num_images)
    runner = SimpleNamespace(model=torch.nn.Identity())
    hook.after_val_iter(runner, 0, dict(inputs=torch.arange(batch_size)),
                        [f'sample {i}' for i in range(batch_size)])
    return seen


def test_images_are_evenly_spaced_through_the_batch(monkeypatch):
    # A data set stored class by class (4 images of each of 8 classes) shows 4 classes.
    seen = drawn(monkeypatch, num_images=4, batch_size=32)
    assert seen['inputs'] == [0, 10, 21, 31]
    assert seen['outputs'] == ['sample 0', 'sample 10', 'sample 21', 'sample 31']
    assert {i // 4 for i in seen['inputs']} == {0, 2, 5, 7}


def test_a_batch_smaller_than_the_figure_is_drawn_whole(monkeypatch):
    assert drawn(monkeypatch, num_images=4, batch_size=3)['inputs'] == [0, 1, 2]
    assert drawn(monkeypatch, num_images=1, batch_size=5)['inputs'] == [0]
