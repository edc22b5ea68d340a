"""tools/benchmarks/memory_model.py predicts the peak memory of a training step that PyTorch's
allocator records for a small SimMIM model and a small classifier (fine-tuning) on the CPU,
with and without checkpointing."""
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOLERANCE = 0.15  # relative; allocator temporaries of the backward pass are not modelled


@pytest.fixture(scope='module')
def memory_model():
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools', 'benchmarks'))
    try:
        import memory_model
        yield memory_model
    finally:
        sys.path.remove(osp.join(REPO, 'tools', 'benchmarks'))


@pytest.mark.parametrize('task', ['pretrain', 'finetune'])
def test_predicted_peak_matches_the_measured_one(memory_model, task):
    # Activations are fitted on widths 32 and 64; the model checked is 48 wide.
    size, window, depths, batch, width = 96, 6, (2, 2, 2, 2), 8, 48
    activations = memory_model.fit_activations(depths, size, window, task=task)
    assert activations.per_image(width, with_cp=True) < activations.per_image(width) / 2
    for with_cp in (False, True):
        cfg = memory_model.model_config(task, width, depths, size, window, with_cp=with_cp)
        predicted = memory_model.predict_step(cfg, batch, size, activations)
        measured = memory_model.measure_step(cfg, batch, size, task)
        assert abs(predicted / measured - 1) < TOLERANCE, (with_cp, predicted, measured)


def test_state_bytes_of_the_memory_plan(memory_model):
    parts = memory_model.step_memory(params=10**9, activations_per_image=0, batch=64,
                                     zero_ranks=32, bf16=True, bucket_view=True)
    assert parts['adamw_states'] == 8e9 / 32 and parts['ddp_buckets'] == 0
    plain = memory_model.step_memory(params=10**9, activations_per_image=0, batch=64)
    assert plain['peak'] == 4e9 + 4e9 + 4e9 + 8e9 + 4e9  # weights, grads, buckets, AdamW
