"""mim_scaling.study.estimates: a run's images, GPU-hours and cost from a measured
throughput, and the package's table of measured throughputs per GPU, model, task and image
size."""
import pytest
from mmengine.config import Config

from mim_scaling.study.estimates import (THROUGHPUTS, RunEstimate, estimate, find_throughput,
                                         read_throughputs, throughput_key)

HEADER = 'gpu\tmodel\ttask\timage_size\timages_per_second\tsource\n'


def table(tmp_path, *rows):
    path = tmp_path / 'throughputs.tsv'
    path.write_text(HEADER + ''.join(f'{row}\n' for row in rows))
    return path


def test_rows_are_matched_by_model_task_and_image_size_on_one_gpu(tmp_path):
    rows = read_throughputs(table(
        tmp_path,
        'NVIDIA H100 80GB HBM3\tbase\tpretrain\t192\t1250.5\tbenchmark_simmim.py, 2026-12-01',
        'NVIDIA H100 80GB HBM3\tbase\tfinetune\t224\t800\tbenchmark_simmim.py, 2026-12-01',
        'NVIDIA A100-SXM4-40GB\tbase\tpretrain\t192\t600\tbenchmark_simmim.py, 2026-11-02',
        'NVIDIA A100-SXM4-40GB\tbase\tpretrain\t192\t650\tbenchmark_simmim.py, 2026-12-02'))
    assert rows[0].images_per_second == 1250.5 and rows[0].image_size == 192
    assert find_throughput(rows, 'base', 'finetune', 224).images_per_second == 800
    assert find_throughput(rows, 'base', 'finetune', 192) is None  # another image size
    assert find_throughput(rows, 'large', 'pretrain', 192) is None
    # Pre-training at 192 px was measured on two GPUs: the user names theirs; of two rows of
    # one GPU, the later (the latest measurement) counts.
    with pytest.raises(ValueError, match=r'several GPUs \(NVIDIA A100-SXM4-40GB, NVIDIA H100 '
                       r'80GB HBM3\): name yours with --gpu-type'):
        find_throughput(rows, 'base', 'pretrain', 192)
    assert find_throughput(rows, 'base', 'pretrain', 192, gpu='h100').images_per_second == \
        1250.5
    assert find_throughput(rows, 'base', 'pretrain', 192, gpu='A100').images_per_second == 650


@pytest.mark.parametrize('row, problem', [
    ('H100\tbase\ttrain\t192\t1000\tx', "task 'train' is not one of"),
    ('H100\tbase\tpretrain\t192px\t1000\tx', 'image_size must be an integer'),
    ('H100\tbase\tpretrain\t192\t-5\tx', 'image_size and images_per_second must be positive'),
    ('H100\tbase\tpretrain\t192\t1000\t', 'a figure needs its gpu, model and source'),
    ('H100\tbase\tpretrain\t192\t1000', '6 tab-separated cells expected'),
])
def test_a_malformed_row_is_refused_with_its_line(tmp_path, row, problem):
    path = table(tmp_path, 'H100\tbase\tfinetune\t224\t700\tx', row)
    with pytest.raises(ValueError, match=f'{path}, line 3: {problem}'):
        read_throughputs(path)
    path.write_text('gpu,model,task\n')
    with pytest.raises(ValueError, match='the header must be'):
        read_throughputs(path)


def test_the_shipped_table_holds_measured_gpu_figures_only():
    # No GPU figure has been measured yet (docs/benchmarks.md): the table may be empty, and
    # every row it gets must name its GPU and how it was measured (read_throughputs checks).
    for row in read_throughputs(THROUGHPUTS):
        assert row.gpu and row.source and row.images_per_second > 0


def test_a_configs_key_is_its_backbones_arch_and_image_size():
    def key(**backbone):
        return throughput_key(Config(dict(model=dict(backbone=backbone))))

    assert key(arch='base', img_size=192) == ('base', 192)
    assert key(arch='large', img_size=(224, 224)) == ('large', 224)
    assert key(arch=dict(embed_dims=16), img_size=64) is None  # no name to look up
    assert key(arch='base', img_size=(192, 256)) is None


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
