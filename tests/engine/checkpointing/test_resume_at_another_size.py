"""A run resumed with another per-GPU batch (``ResumableIterBasedTrainLoop``): it continues
the stream of samples where the checkpoint left it, none skipped or repeated, says what
changed, and scales the learning rate to the new total batch only under auto_scale_lr.

One process, batch 4 then 8 (tools/train.py in this process), the weight and the bias in
param groups of their own (so mmengine logs ``base_lr``); from one to two processes
and back under tools/dist_train.sh is in tests/tools/test_dist_train_preemption.py.
"""
import re
import shutil

import pytest

from mim_scaling.safe_loading import safe_load
from preemptible_toy import (ROOT, learning_rates, run_log, samples, train_in_process,
                             write_config)

SWITCH, ITERS = 3, 8  # 3 iterations of 4 samples, then 5 of 8
SAMPLES = SWITCH * 4 + (ITERS - SWITCH) * 8
LR = 0.05  # the config's


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('resize')
    straight, scaled, kept = tmp / 'straight', tmp / 'scaled', tmp / 'kept'
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / 'tools'))
        patch.setenv('LOCAL_RANK', '0')
        # The uninterrupted stream: batch 4 until it has seen as many samples.
        train_in_process(write_config(tmp, 'straight', max_iters=SAMPLES // 4, param_groups=2),
                         straight)
        # Stopped after iteration 3 as a cluster would (a run with max_iters=3 would
        # also end its schedule there).
        with pytest.raises(SystemExit):
            train_in_process(write_config(tmp, 'batch4', max_iters=ITERS, preempt_at=SWITCH,
                                          param_groups=2), scaled)
        shutil.copytree(scaled, kept)
        batch8 = write_config(tmp, 'batch8', max_iters=ITERS, batch_size=8, param_groups=2)
        train_in_process(batch8, scaled, '--resume', '--auto-scale-lr')
        train_in_process(batch8, kept, '--resume')
    return dict(straight=straight, scaled=scaled, kept=kept)


@pytest.mark.parametrize('work_dir', ['scaled', 'kept'])
def test_the_samples_trained_are_those_of_the_uninterrupted_stream(runs, work_dir):
    trained = samples(runs[work_dir])
    assert [len(trained[i]) for i in range(1, ITERS + 1)] == [4] * SWITCH + [8] * (
        ITERS - SWITCH)
    straight = [index for batch in samples(runs['straight']).values() for index in batch]
    assert [index for i in sorted(trained) for index in trained[i]] == straight


def test_the_log_says_what_changed(runs):
    log = run_log(runs['kept'])
    assert f'Resuming at sample {SWITCH * 4} of the training stream' in log
    assert 'run of 1 process x 4 = 4 samples per step; this run has 1 process x 8 = 8' in log
    assert 'The total batch changed from 4 to 8; the run keeps the learning rate' in log
    log = run_log(runs['scaled'])
    assert 'auto_scale_lr scales the resumed learning rates and their schedule by 8/4' in log
    assert f'(base_lr {LR:g}, lr {LR:g} -> base_lr {2 * LR:g}, lr {2 * LR:g})' in log


def test_auto_scale_lr_scales_the_resumed_schedule(runs):
    straight, scaled = learning_rates(runs['straight']), learning_rates(runs['scaled'])
    assert [scaled[i] for i in range(1, SWITCH + 1)] == [straight[i]
                                                         for i in range(1, SWITCH + 1)]
    # The rest of the schedule (warm-up end, then the step at 6) at twice the lr.
    for i in range(SWITCH + 1, ITERS + 1):
        assert scaled[i] == pytest.approx(2 * straight[i], rel=1e-12)
    assert scaled[ITERS] < scaled[SWITCH + 1]
    # What the optimizer and the schedulers saved, and a later resume starts from.
    checkpoint = safe_load(runs['scaled'] / f'iter_{ITERS}.pth')
    assert checkpoint['optimizer']['param_groups'][0]['initial_lr'] == pytest.approx(2 * LR)
    # Two param groups (weight, bias) and the wrapper's base_param_settings.
    assert [s['base_values'] for s in checkpoint['param_schedulers']] == [[2 * LR] * 3] * 2


def test_the_logged_base_lr_is_the_scaled_one(runs):
    # With several param groups mmengine logs base_lr (the wrapper's base_param_settings)
    # next to the lr of the first group; here both groups have the config's lr.
    logs = ''.join(path.read_text() for path in sorted(runs['scaled'].glob('2*/2*.log')))
    logged = {int(i): (float(base_lr), float(lr)) for i, base_lr, lr in re.findall(
        r'Iter\(train\) \[(\d+)/\d+\]\s+base_lr: (\S+) lr: (\S+)', logs)}
    assert sorted(logged) == list(range(1, ITERS + 1))
    assert all(base_lr == lr for base_lr, lr in logged.values())
    assert logged[SWITCH + 1][0] == pytest.approx(2 * LR)


def test_without_auto_scale_lr_the_resumed_lr_is_kept(runs):
    straight = learning_rates(runs['straight'])
    assert learning_rates(runs['kept']) == {i: straight[i] for i in range(1, ITERS + 1)}
