"""The GPU data path's benchmark runs its parts on the CPU (tiny batches of the demo model),
and reads how long a run waited for data from its json log."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))
import benchmark_device_decoding as bench  # noqa: E402
import check_device_decoding as check  # noqa: E402

DEMO_CONFIG = str(ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py')


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    return bench.write_jpegs(str(tmp_path_factory.mktemp('jpegs')), 3, (200, 150), 90)


def test_worker_part_times_both_pipelines_per_image(jpegs, capsys):
    per_image = bench.worker_part(DEMO_CONFIG, jpegs, repeats=1)
    assert set(per_image) == {'CPU pipeline (whole)', 'GPU path, worker part'}
    assert all(seconds > 0 for seconds in per_image.values())
    assert 'less CPU time per image than the whole CPU pipeline' in capsys.readouterr().out


def test_device_part_and_step_run_on_the_cpu(jpegs, capsys):
    result = bench.device_part(DEMO_CONFIG, jpegs, 2, 'cpu', repeats=1, warmup=0)
    assert result.items == 2 and len(result.seconds) == 1
    times = bench.step_part(DEMO_CONFIG, jpegs, 2, 'cpu', 'float32', repeats=1, warmup=0)
    assert set(times) == {'SimMIM step, decoded batch', 'SimMIM step, decoding its batch',
                          'device part alone'}
    out = capsys.readouterr().out
    assert 'device part on the CPU, batch 2' in out and 'adds' in out


def test_the_data_wait_is_read_from_the_newest_json_log(tmp_path, capsys):
    for run, data_time in (('20260101_000000', 0.5), ('20260102_000000', 0.01)):
        (tmp_path / run / 'vis_data').mkdir(parents=True)
        lines = [dict(iter=i, lr=1e-3, data_time=data_time, time=0.2, loss=1.0,
                      decoded_on_cpu=i // 4) for i in range(1, 21)]
        lines.append(dict(iter=20, step=20, reconstruction_loss=0.9))  # a validation line
        (tmp_path / run / 'vis_data' / f'{run}.json').write_text(
            '\n'.join(json.dumps(line) for line in lines))
    wait = bench.data_wait(str(tmp_path))
    assert wait == dict(data_time=0.01, time=0.2, decoded_on_cpu=3.5)  # of 2, 3 x 4, 4 x 4, 5
    assert 'iterations 11-20' in capsys.readouterr().out


def test_the_whole_worker_is_timed_from_its_own_cpu_clock(tmp_path, capsys):
    bench.write_jpegs(str(tmp_path), 4, (200, 150), 90)
    per_image = bench.whole_worker(DEMO_CONFIG, str(tmp_path), batch=2, batches=2, repeats=1)
    assert set(per_image) == {'CPU pipeline', 'GPU path'}
    assert all(seconds > 0 for seconds in per_image.values())
    out = capsys.readouterr().out
    assert 'main process, receiving' in out and 'less CPU time per image' in out


def test_the_device_decoder_check_runs_on_the_cpu(capsys):
    results = check.main(['--device', 'cpu', '--config', DEMO_CONFIG, '--iterations', '1',
                          '--batch', '2', '--large-size', '300', '200', '--large-count', '1'])
    # The CPU's decoder has no stream to race with.
    assert results["torchvision's call"]['corrupted'] == 0
    assert results['with the guard'] == dict(corrupted=0, largest_difference=0)
    outcomes = results['files']
    assert outcomes['intact'] == outcomes['motion photo'] == 'decoded on the device'
    for kind in ('scan data cut in half', 'header with 1.6x the rows'):
        assert outcomes[kind].startswith('named: corrupt or truncated JPEG'), kind
    for kind in ('RGB with Adobe segment', 'RGB without Adobe segment'):
        assert outcomes[kind] == 'decoded by the worker (JPEG not in YCbCr)', kind
    assert results['memory']['unbounded'] > 3 * 300 * 200
    assert 'iterations with a wrong sum' in capsys.readouterr().out
