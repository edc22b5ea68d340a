"""mim_scaling.study.estimates: a run's images, GPU-hours and cost from a measured
throughput, and the table of measured throughputs in docs/benchmarks.md."""
import pytest
from mmengine.config import Config

from mim_scaling.study.estimates import (BENCHMARKS, RunEstimate, estimate, find_throughput,
                                         read_throughputs)

DOC = """# Benchmarks

## Something else

| configs | GPU | images/s per GPU | measured with |
|---|---|---|---|
| not_this_* | X | 1 | - |

## Training throughput per GPU (read by tools/sweep.py)

| configs | GPU | images/s per GPU | measured with |
|---|---|---|---|
| `simmim_swinv2-b_*` | NVIDIA H100 80GB | 1,250.5 | benchmark_simmim.py --batch 128 |
| simmim_swinv2-* | NVIDIA A100 40GB | 600 | benchmark_simmim.py --batch 64 |

## Next section

| simmim_swinv2-l_* | Y | 7 | - |
"""


def test_the_table_is_read_from_its_section_only_and_matched_by_config_name(tmp_path):
    doc = tmp_path / 'benchmarks.md'
    doc.write_text(DOC)
    table = read_throughputs(doc)
    assert [(row.configs, row.gpu, row.images_per_second) for row in table] == [
        ('simmim_swinv2-b_*', 'NVIDIA H100 80GB', 1250.5),
        ('simmim_swinv2-*', 'NVIDIA A100 40GB', 600.0)]
    assert find_throughput('configs/pretrain/simmim_swinv2-b_125k_in1k.py', table).gpu == \
        'NVIDIA H100 80GB'  # the first match
    assert find_throughput('simmim_swinv2-l_500k_in22k.py', table).images_per_second == 600
    assert find_throughput('configs/imagenet/swinv2-b_ft_in1k.py', table) is None


def test_the_shipped_table_holds_measured_gpu_figures_only():
    for row in read_throughputs(BENCHMARKS):  # none yet; any row must name its GPU
        assert row.gpu and row.images_per_second > 0 and row.measured_with


def test_estimate_of_an_iteration_and_an_epoch_based_run(tmp_path):
    iters = Config(dict(train_cfg=dict(max_iters=1000), train_dataloader=dict(batch_size=8)))
    run = estimate(iters, total_batch=64, gpus=8, images_per_second=16,
                   price_per_gpu_hour=3.0)
    # 1000 x 64 = 64,000 images; / 16 per s = 4000 GPU-seconds = 1.111 GPU-hours.
    assert run.images == 64_000
    assert run.gpu_hours == pytest.approx(64_000 / 16 / 3600)
    assert run.hours == pytest.approx(64_000 / 16 / 3600 / 8)
    assert run.cost == pytest.approx(64_000 / 16 / 3600 * 3.0)

    ann = tmp_path / 'meta' / 'train.txt'
    ann.parent.mkdir()
    ann.write_text('a.jpg 0\nb.jpg 1\n\nc.jpg 2\n')  # three images, a blank line
    epochs = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=10), train_dataloader=dict(
        dataset=dict(type='ImageNet', data_root=str(tmp_path), ann_file='meta/train.txt'))))
    assert estimate(epochs, 2048, 1, None).images == 30
    epochs.train_dataloader.dataset = dict(type='ImageNet', data_root='none', split='train')
    assert estimate(epochs, 2048, 1, None).images == 10 * 1_281_167  # ILSVRC-2012 train
    epochs.train_dataloader.dataset = dict(type='CustomDataset', data_root='none')
    unknown = estimate(epochs, 2048, 1, 100.0, 2.0)
    assert (unknown.images, unknown.gpu_hours, unknown.cost) == (None, None, None)
    assert RunEstimate(100, 1, None).gpu_hours is None
