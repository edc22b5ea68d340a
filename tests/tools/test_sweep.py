"""tools/sweep.py: the commands of a selection of the grid, in order, each fine-tuning from
its pre-training's final checkpoint; finished runs skipped; results next to the released;
jobs over several nodes, which need MASTER_ADDR; slurm jobs submitted with their
dependencies; every config checked before anything is submitted; a ledger in each work dir,
so that a rerun never submits a queued, running or finished run twice; --status; the total
batch kept on another number of GPUs, and no accumulation on an iteration-based schedule;
images, GPU-hours and cost from each model's measured throughput, by a dry run that writes
nothing. Stand-ins for sbatch, squeue, sacct and scontrol are put first on PATH."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import sweep  # noqa: E402

B_125K = 'simmim_swinv2-b_125k_in1k'
B_250K = 'simmim_swinv2-b_250k_in1k'


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # config paths of the grid are relative to it


def commands(out):
    return [line for line in out.splitlines() if line and not line.startswith(('#', '|'))
            and not line.startswith('Results')]


def log_scalars(work_dir, records):
    path = Path(work_dir) / '20260101_000000' / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_dry_run_prints_each_pretraining_then_its_finetuning(tmp_path, capsys):
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k',
                '--gpus-per-node', '16', '--work-root', str(tmp_path)])
    w = tmp_path
    assert commands(capsys.readouterr().out) == [
        f'bash tools/dist_train.sh configs/pretrain/{B_125K}.py 16 --work-dir {w}/{B_125K} '
        '--resume',
        f'bash tools/dist_train.sh configs/imagenet/swinv2-b_ft_in1k.py 16 --work-dir '
        f'{w}/swinv2-b_ft_in1k/{B_125K} --resume --cfg-options '
        f'model.backbone.init_cfg.checkpoint={w}/{B_125K}/iter_125000.pth',
        f'bash tools/dist_train.sh configs/pretrain/{B_250K}.py 16 --work-dir {w}/{B_250K} '
        '--resume',
        f'bash tools/dist_train.sh configs/imagenet/swinv2-b_ft_in1k.py 16 --work-dir '
        f'{w}/swinv2-b_ft_in1k/{B_250K} --resume --cfg-options '
        f'model.backbone.init_cfg.checkpoint={w}/{B_250K}/iter_250000.pth',
    ]
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing


def test_each_job_gets_the_gpus_of_its_configs_total_batch(tmp_path, capsys):
    sweep.main(['--models', 'b', 'l', '--data', 'in1k', '--lengths', '125k', '--work-root',
                str(tmp_path), '--gpus-per-node', '64'])
    gpus = [c.split()[3] for c in commands(capsys.readouterr().out)]
    # 2048 = 16 x 128 for both pre-trainings and B's fine-tuning, 32 x 64 for L's
    assert gpus == ['16', '16', '16', '32']
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--work-root',
                str(tmp_path), '--gpus-per-node', '64',
                '--cfg-options', 'train_dataloader.batch_size=32'])
    assert [c.split()[3] for c in commands(capsys.readouterr().out)] == ['64', '16']


def test_finished_runs_are_skipped_and_their_results_collected(tmp_path, capsys, monkeypatch):
    pretrain_dir = tmp_path / B_125K
    log_scalars(pretrain_dir, [dict(loss=0.5, step=124900),
                               {'reconstruction/loss': 0.4444, 'step': 125000}])
    (pretrain_dir / 'iter_125000.pth').touch()
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--gpus', '8',
                '--work-root', str(tmp_path)])
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: finished, skipped' in out
    assert [c.split()[2] for c in commands(out)] == [
        'configs/imagenet/swinv2-b_ft_in1k.py', f'configs/pretrain/{B_250K}.py',
        'configs/imagenet/swinv2-b_ft_in1k.py']

    finetune_dir = tmp_path / 'swinv2-b_ft_in1k' / B_125K
    log_scalars(finetune_dir, [{'accuracy/top1': 80.0, 'step': 99},
                               {'accuracy/top1': 84.25, 'step': 100}])
    (finetune_dir / 'epoch_100.pth').touch()
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 0))  # trains nothing
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--run',
                '--gpus', '8', '--work-root', str(tmp_path), '--out-dir', str(tmp_path / 'table')])
    out = capsys.readouterr().out
    assert f'# finetune {B_125K}: finished, skipped' in out
    assert len(commands(out)) == 2  # only the 250k pair is left, and was run

    with open(tmp_path / 'table' / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [row['pretrain_iters'] for row in rows] == ['125k', '250k']
    done, todo = rows
    assert (done['model'], done['backbone_params'], done['pretrain_data']) == (
        'SwinV2-Base', '87M', 'ImageNet-1K')
    assert float(done['imagenet1k_val_loss']) == 0.4444
    assert float(done['finetuned_top1']) == 84.25
    assert float(done['released_imagenet1k_val_loss']) == 0.4680  # the zoo file's figures
    assert float(done['released_finetuned_top1']) == 84.13
    assert done['status'] == 'done' and todo['status'] == 'not started'
    assert todo['imagenet1k_val_loss'] == '' and todo['released_finetuned_top1'] != ''
    markdown = (tmp_path / 'table' / 'results.md').read_text()
    [row] = [line for line in markdown.splitlines() if '| 125k |' in line]
    assert row.startswith('| SwinV2-Base | 87M | ImageNet-1K | 125k | 0.4444 | 0.4680 |')
    assert row.endswith('| 84.25 | 84.13 | done |')


def fake_python(tmp_path, exit_code):
    """Stands in for the Python that tools/dist_train.sh starts: records its arguments."""
    script = tmp_path / 'python'
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\nexit {exit_code}\n')
    script.chmod(0o755)
    return str(script)


def torchrun_calls(tmp_path):
    """The fake Python's calls that start torchrun (tools/dist_train.sh may ask it more)."""
    calls = [call.split() for call in (tmp_path / 'calls').read_text().splitlines()]
    return [call for call in calls if call[:2] == ['-m', 'torch.distributed.run']]


def test_run_launches_in_order_and_a_failed_pretraining_skips_its_finetuning(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 0))
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--gpus', '2', '--run',
            '--work-root', str(tmp_path / 'work')]
    sweep.main(argv)
    calls = torchrun_calls(tmp_path)
    # torchrun's arguments, then tools/train.py's: the pre-training, then the fine-tuning
    script = f'{ROOT}/tools/train.py'
    assert [(call[:2], '--nproc_per_node=2' in call, call[call.index(script) + 1])
            for call in calls] == [
        (['-m', 'torch.distributed.run'], True, f'configs/pretrain/{B_125K}.py'),
        (['-m', 'torch.distributed.run'], True, 'configs/imagenet/swinv2-b_ft_in1k.py')]

    os.remove(tmp_path / 'calls')
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 1))
    with pytest.raises(SystemExit, match=f'1 run.s. failed: {B_125K}'):
        sweep.main(argv)
    assert len(torchrun_calls(tmp_path)) == 1
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: FAILED' in out
    assert f'# finetune {B_125K}: skipped, its pre-training failed' in out

    # Preempted (tools/dist_train.sh's status 75: saved, to be continued): the machine is
    # being taken away, so the sweep stops there, with the same status, and starts nothing.
    os.remove(tmp_path / 'calls')
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 75))
    with pytest.raises(SystemExit) as stopped:
        sweep.main(argv[:4] + ['in1k-10pct'] + argv[4:])
    assert stopped.value.code == 75
    assert len(torchrun_calls(tmp_path)) == 1
    out = capsys.readouterr().out
    assert out.count(': stopped by a preemption signal after saving a checkpoint; the sweep '
                     'stops too: run it again to continue') == 1
    assert '# finetune' not in out.split('stopped by a preemption signal')[1]


def test_missing_configs_and_bad_selections_are_named(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown model \['x'\]"):
        sweep.main(['--models', 'x'])
    grid = tmp_path / 'grid.py'
    grid.write_text("pretrain_config = 'configs/none/{model}_{length}_{data}.py'\n"
                    "models = ['a']\ndata = ['d']\nlengths = ['1it']\n")
    with pytest.raises(SystemExit, match='configs/none/a_1it_d.py'):
        sweep.main(['--grid', str(grid)])


def test_a_row_from_scratch_is_its_finetuning_alone_with_a_random_encoder(tmp_path, capsys):
    sweep.main(['--grid', 'configs/demo/sweep_grid_lfw.py', '--models', 'w16', '--data',
                'from-scratch', 'lfw', '--gpus', '1', '--work-root', str(tmp_path)])
    w, ft = tmp_path, 'configs/demo/swinv2-demo-w16_ft_lfw.py'
    pretraining = 'simmim_swinv2-demo-w16_200it_lfw'
    assert commands(capsys.readouterr().out) == [
        f'bash tools/dist_train.sh {ft} 1 --work-dir {w}/swinv2-demo-w16_ft_lfw/w16-from-scratch '
        '--resume --cfg-options model.backbone.init_cfg=None',
        f'bash tools/dist_train.sh configs/demo/{pretraining}.py 1 --work-dir {w}/{pretraining} '
        '--resume',
        f'bash tools/dist_train.sh {ft} 1 --work-dir {w}/swinv2-demo-w16_ft_lfw/{pretraining} '
        f'--resume --cfg-options model.backbone.init_cfg.checkpoint={w}/{pretraining}/iter_200.pth',
    ]


def fake_sbatch(tmp_path, monkeypatch, fail_on=None):
    """An ``sbatch`` first on PATH: records its arguments, one call per line, and prints a
    job id as ``sbatch --parsable`` does (``ID;CLUSTER``), or fails for a job name."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    script = bin_dir / 'sbatch'
    script.write_text(f"""#!/bin/sh
echo "$@" >> {tmp_path}/sbatch_calls
case "$*" in *"--job-name={fail_on} "*) echo "sbatch: error: invalid partition" >&2; exit 1;; esac
n=$(wc -l < {tmp_path}/sbatch_calls)
echo "$((1000 + n));cluster"
""")
    script.chmod(0o755)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    return tmp_path / 'sbatch_calls'


def sbatch_options(call):
    """{option: value} of an sbatch call, up to its script."""
    words = call.split()
    options = words[:words.index(f'{ROOT}/tools/slurm_train.sh')]
    return dict(word.partition('=')[::2] for word in options)


def test_jobs_larger_than_a_node_become_one_command_per_node(tmp_path, capsys):
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--pretrain-only',
            '--work-root', str(tmp_path)]
    sweep.main(argv + ['--master-addr', '10.0.0.1'])  # 2048 = 16 GPUs x 128: 2 nodes of 8
    w = tmp_path
    assert commands(capsys.readouterr().out) == [
        f'env NNODES=2 NODE_RANK={rank} MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh '
        f'configs/pretrain/{B_125K}.py 8 --work-dir {w}/{B_125K} --resume' for rank in (0, 1)]
    sweep.main(argv)  # each node's shell gives the host of node 0
    assert 'NODE_RANK=1 MASTER_ADDR="${MASTER_ADDR:?node 1 needs MASTER_ADDR, the host of ' \
        'node 0}" bash' in capsys.readouterr().out
    sweep.main(argv + ['--gpus-per-node', '16'])
    assert commands(capsys.readouterr().out) == [
        f'bash tools/dist_train.sh configs/pretrain/{B_125K}.py 16 --work-dir {w}/{B_125K} '
        '--resume']
    # This machine cannot start the other node's processes.
    with pytest.raises(SystemExit, match='span several nodes.*--launcher slurm'):
        sweep.main(argv + ['--run'])
    with pytest.raises(SystemExit, match='needs 16 GPUs, which nodes of 6 .*cannot hold'):
        sweep.main(argv + ['--gpus-per-node', '6'])


def test_slurm_jobs_are_submitted_and_each_finetuning_waits_for_its_pretraining(
        tmp_path, capsys, monkeypatch):
    calls = fake_sbatch(tmp_path, monkeypatch)
    monkeypatch.delenv('SLURM_JOB_ID', raising=False)  # submitted from outside a job
    work = tmp_path / 'work'
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--run',
                '--launcher', 'slurm', '--partition', 'gpu', '--images-per-second', '1000',
                '--work-root', str(work)])
    pretrain_125k, finetune_125k, pretrain_250k, finetune_250k = \
        calls.read_text().splitlines()
    first = sbatch_options(pretrain_125k)
    assert first['--job-name'] == B_125K and first['--partition'] == 'gpu'
    # 16 GPUs over 2 nodes of 8; the early signal and requeue of tools/slurm_train.sh;
    # output in the work dir; the job id printed alone
    assert (first['--ntasks'], first['--ntasks-per-node']) == ('16', '8')
    assert first['--gres'] == 'gpu:8'
    assert '--requeue' in first and first['--signal'] == 'USR1@600' and '--parsable' in first
    assert first['--export'].endswith(',GPUS=16,GPUS_PER_NODE=8')
    assert first['--output'] == f'{work}/{B_125K}/slurm-%j.out' and (work / B_125K).is_dir()
    # The time limit from the estimate: 125k x 2048 images at 1000/s on each of 16 GPUs
    # is 4.44 h; x 1.25 = 333.3 -> 334 minutes, + 30 = 6:04.
    assert first['--time'] == '0-06:04:00'
    assert '--dependency' not in first
    assert pretrain_125k.endswith(f'tools/slurm_train.sh gpu {B_125K} '
                                  f'configs/pretrain/{B_125K}.py {work}/{B_125K} --resume')
    # 100 epochs of 1,281,167 images on 16 GPUs: 2.22 h -> 167 + 30 minutes
    assert sbatch_options(finetune_125k)['--time'] == '0-03:17:00'
    # Job ids from "ID;CLUSTER": 1001 .. 1004, each fine-tuning after its own pre-training.
    assert sbatch_options(finetune_125k)['--dependency'] == 'afterok:1001'
    assert sbatch_options(pretrain_250k).get('--dependency') is None
    assert sbatch_options(finetune_250k)['--dependency'] == 'afterok:1003'
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: submitted as slurm job 1001' in out

    # A finished pre-training: its fine-tuning starts without waiting. A refused submission
    # leaves out its fine-tuning, and the sweep says so.
    # (slurm no longer knows the jobs submitted above: they are submitted again.)
    (work / B_125K / 'iter_125000.pth').touch()
    (tmp_path / 'again').mkdir()
    calls = fake_slurm(tmp_path / 'again', monkeypatch, fail_on=B_250K)
    with pytest.raises(SystemExit, match=f'1 run.s. failed: {B_250K}'):
        sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--run',
                    '--launcher', 'slurm', '--partition', 'gpu', '--time', '2-00:00:00',
                    '--work-root', str(work)])
    finetune_125k, pretrain_250k = calls.read_text().splitlines()
    assert '--dependency' not in sbatch_options(finetune_125k)
    assert sbatch_options(finetune_125k)['--time'] == '2-00:00:00'
    assert B_250K in pretrain_250k
    captured = capsys.readouterr()
    assert 'sbatch failed (1): sbatch: error: invalid partition' in captured.err
    assert f'# finetune {B_250K}: skipped, its pre-training failed' in captured.out


def test_slurm_needs_a_time_limit_or_a_throughput_to_derive_one(tmp_path, capsys):
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--launcher', 'slurm',
            '--partition', 'gpu', '--work-root', str(tmp_path)]
    sweep.main(argv)  # a dry run prints the jobs without one
    assert all('TIME=' not in line and 'SBATCH_ARGS=--parsable' in line
               for line in commands(capsys.readouterr().out))
    with pytest.raises(SystemExit, match='no time limit for pretrain .*images/s per GPU.*'
                       '--images-per-second .* or --time'):
        sweep.main(argv + ['--run'])
    assert list(tmp_path.iterdir()) == []  # refused before anything was submitted


def test_gpus_keeps_the_total_batch_and_says_how(tmp_path, capsys):
    def dry_run(*options):
        sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--work-root',
                    str(tmp_path), *options])
        out = capsys.readouterr().out
        notes = [line for line in out.splitlines() if line.startswith('# pretrain')
                 or line.startswith('# finetune')]
        return commands(out), notes

    # 32 GPUs: half the per-GPU batch, for the pre-training and the fine-tuning alike.
    lines, notes = dry_run('--gpus', '32', '--gpus-per-node', '32')
    assert all(line.endswith('train_dataloader.batch_size=64') for line in lines)
    assert 'total batch 2048 kept by the per-GPU batch: 32 GPUs x 64 (config: 16 GPUs x 128)' \
        in notes[0]
    # 8 GPUs: the fine-tuning (epochs) accumulates 2 steps of 128; the iteration-based
    # pre-training doubles its per-GPU batch (accumulated micro-batches would count as
    # iterations), and says that it needs more memory.
    (pretrain, finetune), (pretrain_note, finetune_note) = dry_run('--gpus', '8')
    assert pretrain.endswith('--cfg-options train_dataloader.batch_size=256')
    assert 'kept by the per-GPU batch: 8 GPUs x 256' in pretrain_note
    assert 'need more memory than 128' in pretrain_note
    assert finetune.endswith('optim_wrapper.accumulative_counts=2')
    assert ('total batch 2048 kept by gradient accumulation: 8 GPUs x 128 x 2 accumulated '
            'steps') in finetune_note
    # --scale-lr: the per-GPU batch stays, the total halves, the lr follows.
    (pretrain, _), (note, _) = dry_run('--gpus', '8', '--scale-lr')
    assert pretrain.endswith('--resume --auto-scale-lr') and 'batch_size' not in pretrain
    assert 'total batch 1024 = 8 GPUs x 128 instead of 2048' in note and '--auto-scale-lr' in note
    with pytest.raises(SystemExit, match='--gpus 24 cannot keep the total batch 2048'):
        dry_run('--gpus', '24')


def test_dry_run_estimates_images_gpu_hours_and_cost_and_writes_nothing(tmp_path, capsys):
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--work-root',
            str(tmp_path)]
    sweep.main(argv + ['--images-per-second', '1000', '--price-per-gpu-hour', '2.5'])
    out = capsys.readouterr().out
    # 125,000 iterations x 2048 images; / 1000 images/s / 3600 s = 71.11 GPU-hours, 4.44 h on
    # 16 GPUs, 177.78 at 2.5 per GPU-hour.
    assert (f'# pretrain {B_125K}: 16 GPUs; 256,000,000 images; 71.1 GPU-hours (4.4 h on 16) '
            'at 1000 images/s per GPU (--images-per-second); cost 177.78 at 2.5 per GPU-hour'
            ) in out
    # 100 epochs x 1,281,167 ImageNet-1K images (no annotation file here to count):
    # 35.59 GPU-hours, 88.97.
    assert (f'# finetune {B_125K}: 16 GPUs; 128,116,700 images; 35.6 GPU-hours (2.2 h on 16)'
            ) in out and 'cost 88.97 ' in out
    assert ('# total of 2 runs to go: 384,116,700 images, 106.7 GPU-hours, cost 266.75'
            in out)
    assert list(tmp_path.iterdir()) == []

    # Without a figure: the package's table has no GPU measurement yet.
    sweep.main(argv)
    out = capsys.readouterr().out
    assert ('256,000,000 images; GPU-hours unknown: mim_scaling/study/throughputs.tsv has no '
            'measured images/s per GPU for SwinV2 base pretrain at 192 px; pass '
            '--images-per-second or --throughputs') in out
    assert '# total of 2 runs to go: 384,116,700 images, no GPU-hours' in out


def test_every_config_is_checked_with_the_options_before_anything_is_submitted(
        tmp_path, monkeypatch):
    calls = fake_sbatch(tmp_path, monkeypatch)
    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as refused:
        sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--run',
                    '--launcher', 'slurm', '--partition', 'gpu', '--time', '1-00:00:00',
                    '--work-root', str(work), '--cfg-options',
                    'default_hooks.checkpoint.max_keep_ckpt=2', 'skip_unreadable_image=True'])
    message = str(refused.value.code)
    assert 'nothing was submitted or started' in message
    assert "'max_keep_ckpt'" in message and "'max_keep_ckpts'" in message
    assert "'skip_unreadable_image'" in message and "'skip_unreadable_images'" in message
    assert f'(pretrain {B_125K})' in message  # the job it was found in
    assert not calls.exists() and not work.exists()


def test_slurm_jobs_are_not_refused_for_what_this_machines_devices_cannot_run(
        tmp_path, monkeypatch):
    # Mixed precision needs a GPU; the login node that submits has none, the job's nodes do.
    calls = fake_sbatch(tmp_path, monkeypatch)
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--pretrain-only',
            '--partition', 'gpu', '--time', '1-00:00:00', '--work-root', str(tmp_path / 'work'),
            '--cfg-options', 'optim_wrapper.type=AmpOptimWrapper']
    sweep.main(argv + ['--launcher', 'slurm', '--run'])
    assert len(calls.read_text().splitlines()) == 1
    # Run here, the same config cannot train: refused before anything starts.
    with pytest.raises(SystemExit, match="'AmpOptimWrapper'.*there is none here"):
        sweep.main(argv + ['--launcher', 'local', '--run', '--work-root',
                           str(tmp_path / 'local')])
    assert not (tmp_path / 'local').exists()


def test_accumulation_is_refused_for_an_iteration_based_pretraining(tmp_path):
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--work-root',
            str(tmp_path)]
    # mmengine would count each of the 2 micro-batches as an iteration: 62,500 AdamW steps
    # of 2048 images instead of 125,000.
    with pytest.raises(SystemExit, match=r'accumulative_counts=2 with an iteration-based '
                       r'schedule \(train_cfg.max_iters=125000\) would make 62,500 optimizer '
                       r'steps of 2 micro-batches, 1/2 of the images'):
        sweep.main(argv + ['--cfg-options', 'optim_wrapper.accumulative_counts=2'])
    # An epoch-based fine-tuning counts its images by epochs: accumulation is fine there.
    sweep.main(argv + ['--finetune-cfg-options', 'optim_wrapper.accumulative_counts=2'])


def test_node_commands_fail_fast_without_master_addr_on_nodes_after_the_first(
        tmp_path, capsys, monkeypatch):
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--pretrain-only',
                '--work-root', str(tmp_path)])
    node0, node1 = commands(capsys.readouterr().out)
    env = {k: v for k, v in os.environ.items() if k != 'MASTER_ADDR'}
    env['PYTHON'] = fake_python(tmp_path, 0)
    result = subprocess.run(['bash', '-c', node1], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert 'node 1 needs MASTER_ADDR, the host of node 0' in result.stderr
    assert not (tmp_path / 'calls').exists()  # torchrun was never started
    # tools/dist_train.sh itself refuses, for commands written by hand.
    result = subprocess.run(['bash', 'tools/dist_train.sh', 'CONFIG.py', '8'], cwd=ROOT,
                            env=dict(env, NNODES='2', NODE_RANK='1'), capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert 'NODE_RANK=1 needs MASTER_ADDR, the host of node 0' in result.stderr
    assert not (tmp_path / 'calls').exists()


def fake_slurm(tmp_path, monkeypatch, fail_on=None):
    """sbatch (see fake_sbatch), and squeue, sacct and scontrol that answer from the files
    ``queue`` (jobs slurm holds: "ID STATE" lines) and ``history`` (sacct's records);
    scontrol records its calls. A job in neither is unknown to squeue, as a purged one is."""
    calls = fake_sbatch(tmp_path, monkeypatch, fail_on)
    bin_dir = tmp_path / 'bin'
    for name in ('queue', 'history'):
        (tmp_path / name).write_text('')
    scripts = {
        'squeue': f"""job=$(echo "$*" | sed 's/.*--jobs=\\([0-9]*\\).*/\\1/')
state=$(awk -v j="$job" '$1 == j {{print $2}}' {tmp_path}/queue)
if [ -z "$state" ]; then echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
echo "$state"
""",
        'sacct': f"""job=$(echo "$*" | sed 's/.*--jobs=\\([0-9]*\\).*/\\1/')
awk -v j="$job" '$1 == j {{$1 = ""; print substr($0, 2)}}' {tmp_path}/history
""",
        'scontrol': f'echo "$@" >> {tmp_path}/scontrol_calls\n',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f'#!/bin/sh\n{body}')
        (bin_dir / name).chmod(0o755)
    monkeypatch.delenv('SLURM_JOB_ID', raising=False)
    return calls


SLURM_SWEEP = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--run',
               '--launcher', 'slurm', '--partition', 'gpu', '--time', '1-00:00:00']


def test_a_rerun_submits_only_what_is_not_queued_running_or_finished(
        tmp_path, capsys, monkeypatch):
    calls = fake_slurm(tmp_path, monkeypatch)
    work = tmp_path / 'work'
    sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    assert len(calls.read_text().splitlines()) == 4  # jobs 1001 .. 1004
    ledger = json.loads((work / B_125K / 'sweep_jobs.json').read_text())['jobs']
    assert [(e['launcher'], e['job_id'], e['state']) for e in ledger] == [
        ('slurm', '1001', 'submitted')]
    assert ledger[0]['command'][-4:] == [B_125K, f'configs/pretrain/{B_125K}.py',
                                         str(work / B_125K), '--resume']
    finetune_250k = work / 'swinv2-b_ft_in1k' / B_250K / 'sweep_jobs.json'
    assert json.loads(finetune_250k.read_text())['jobs'][0]['dependency'] == '1003'

    # Running it again at once: all four are queued; nothing is submitted.
    (tmp_path / 'queue').write_text('1001 PENDING\n1002 PENDING\n1003 PENDING\n1004 PENDING\n')
    sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    assert len(calls.read_text().splitlines()) == 4
    out = capsys.readouterr().out
    assert out.count('not submitted or started again') == 4

    # 125k pre-trained and its fine-tuning running; 250k's pre-training failed, and its
    # fine-tuning waits for it forever (slurm's DependencyNeverSatisfied).
    (work / B_125K / 'iter_125000.pth').touch()
    (tmp_path / 'queue').write_text('1002 RUNNING\n1004 PENDING\n')
    (tmp_path / 'history').write_text('1001 COMPLETED\n1003 FAILED\n')
    sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    new = calls.read_text().splitlines()[4:]
    assert len(new) == 1 and f'--job-name={B_250K} ' in new[0]  # 250k's pre-training, as 1005
    # The waiting fine-tuning now waits for the new pre-training.
    assert (tmp_path / 'scontrol_calls').read_text() == \
        'update JobId=1004 Dependency=afterok:1005\n'
    assert json.loads(finetune_250k.read_text())['jobs'][-1]['dependency'] == '1005'
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: finished, skipped' in out
    assert f'# finetune {B_125K}: running (slurm job 1002)' in out
    assert f'# pretrain {B_250K}: failed (slurm job 1003: FAILED)' in out

    # A cancelled fine-tuning (and one slurm no longer knows) is submitted again; without an
    # answer from slurm, nothing is.
    (tmp_path / 'queue').write_text('1005 RUNNING\n')
    (tmp_path / 'history').write_text('1004 CANCELLED by 1000\n')
    sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    new = calls.read_text().splitlines()[5:]
    assert len(new) == 2  # 125k's fine-tuning (1002: unknown now), 250k's after 1005
    assert sbatch_options(new[1])['--dependency'] == 'afterok:1005'
    (tmp_path / 'bin' / 'squeue').write_text('#!/bin/sh\necho "slurm_load_jobs error: '
                                             'Unable to contact slurm controller" >&2\nexit 1\n')
    with pytest.raises(SystemExit, match='cannot tell whether .* is still queued or running: '
                       'squeue failed .*Unable to contact.*nothing was submitted'):
        sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    assert len(calls.read_text().splitlines()) == 7


def mmengine_log(work_dir, stamp, lines):
    """A text log as mmengine writes it: <work_dir>/<stamp>/<stamp>.log."""
    path = Path(work_dir) / stamp / f'{stamp}.log'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(f'{line}\n' for line in lines))


def test_status_prints_each_runs_state_and_submits_nothing(tmp_path, capsys, monkeypatch):
    calls = fake_slurm(tmp_path, monkeypatch)
    work = tmp_path / 'work'
    sweep.main(SLURM_SWEEP + ['--work-root', str(work)])
    capsys.readouterr()
    (tmp_path / 'queue').write_text('1001 RUNNING\n1002 PENDING\n')
    (tmp_path / 'history').write_text('1003 FAILED\n1004 CANCELLED by 1000\n')
    # 1001 at iteration 1,200 of 125,000, the last iterations at 0.5 s each.
    mmengine_log(work / B_125K, '20261206_010000', [
        '2026/12/06 01:00:00 - mmengine - INFO - Config:',
        '2026/12/06 01:10:00 - mmengine - INFO - Iter(train) [  1100/125000]  base_lr: '
        '4.0000e-04 lr: 4.0000e-04  eta: 17:00:00  time: 0.7000  data_time: 0.0100  '
        'memory: 30000  loss: 0.6000',
        '2026/12/06 01:11:00 - mmengine - INFO - Iter(train) [  1200/125000]  base_lr: '
        '4.0000e-04 lr: 4.0000e-04  eta: 17:00:00  time: 0.3000  data_time: 0.0100  '
        'memory: 30000  loss: 0.5800'])
    (work / B_250K / 'slurm-1003.out').write_text(
        'Traceback (most recent call last):\n  File "tools/train.py", line 1\n'
        'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n'
        'srun: error: node7: task 0: Exited with exit code 1\n')
    sweep.main(SLURM_SWEEP[:-7] + ['--launcher', 'slurm', '--partition', 'gpu', '--status',
                                   '--work-root', str(work)])
    lines = capsys.readouterr().out.splitlines()
    # (125,000 - 1,200) x 0.5 s = 61,900 s = 17.2 h after 01:11:00: 2026-12-06 18:22:40.
    assert lines == [
        f'pretrain {B_125K}: running (slurm job 1001) at iteration 1,200 of 125,000, 0.5 s '
        'per iteration: about 17.2 h to go, ending around 2026-12-06 18:22 (the clock of '
        'its log)',
        f'finetune {B_125K}: queued (slurm job 1002, PENDING), waiting for slurm job 1001',
        f'pretrain {B_250K}: failed (slurm job 1003: FAILED): torch.OutOfMemoryError: CUDA '
        'out of memory. Tried to allocate 2.00 GiB',
        f'finetune {B_250K}: cancelled (slurm job 1004: CANCELLED)']
    assert len(calls.read_text().splitlines()) == 4  # nothing submitted


def test_dist_and_local_runs_are_recorded_and_a_live_one_is_not_started_twice(
        tmp_path, capsys, monkeypatch):
    from mim_scaling.study.ledger import Ledger, Submission, this_process
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 3))
    work = tmp_path / 'work'
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--gpus', '2', '--run',
            '--work-root', str(work)]
    with pytest.raises(SystemExit):
        sweep.main(argv)
    [entry] = Ledger(work / B_125K).entries()
    assert (entry.launcher, entry.state, entry.exit_status) == ('dist', 'failed', 3)
    assert entry.pid and Path(entry.output).parent == work / B_125K
    sweep.main(argv[:-3] + ['--status', '--work-root', str(work)])
    assert f'pretrain {B_125K}: failed (process {entry.pid} on' in capsys.readouterr().out

    # A run recorded as running in a live process (here: this one) is left alone, and its
    # fine-tuning waits; once that process is gone, the run is started again.
    Ledger(work / B_125K).add(Submission('local', ['train'], 'now', 'running',
                                         **this_process()))
    os.remove(tmp_path / 'calls')
    sweep.main(argv)
    assert not (tmp_path / 'calls').exists()
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: running (process {os.getpid()} on' in out
    assert f'# finetune {B_125K}: skipped, its pre-training is still running' in out
    Ledger(work / B_125K).update_latest(pid_start=-1)  # another process of that id
    with pytest.raises(SystemExit):
        sweep.main(argv)
    assert len(torchrun_calls(tmp_path)) == 1


def write_throughputs(path, rows):
    path.write_text('gpu\tmodel\ttask\timage_size\timages_per_second\tsource\n' +
                    ''.join('\t'.join(map(str, row)) + '\n' for row in rows))
    return str(path)


def test_each_run_is_priced_by_its_models_measured_throughput(tmp_path, capsys):
    table = write_throughputs(tmp_path / 'speeds.tsv', [
        ('GPU-A', 'base', 'pretrain', 192, 1000, 'measured A'),
        ('GPU-A', 'large', 'pretrain', 192, 400, 'measured A'),
        ('GPU-B', 'base', 'pretrain', 192, 2000, 'measured B')])
    argv = ['--models', 'b', 'l', '--data', 'in1k', '--lengths', '125k', '--gpus-per-node',
            '64', '--work-root', str(tmp_path / 'work'), '--throughputs', table]
    with pytest.raises(SystemExit, match=r'SwinV2 base pretrain at 192 px on several GPUs '
                       r'\(GPU-A, GPU-B\): name yours with --gpu-type'):
        sweep.main(argv)
    sweep.main(argv + ['--gpu-type', 'gpu-a'])
    out = capsys.readouterr().out
    # 256,000,000 images at 1000/s: 71.1 GPU-hours; SwinV2-L (16 x 128) at 400/s: 177.8.
    assert (f'# pretrain {B_125K}: 16 GPUs; 256,000,000 images; 71.1 GPU-hours (4.4 h on 16) '
            f'at 1000 images/s per GPU (GPU-A, {table}: measured A)') in out
    assert ('# pretrain simmim_swinv2-l_125k_in1k: 16 GPUs; 256,000,000 images; 177.8 '
            f'GPU-hours (11.1 h on 16) at 400 images/s per GPU (GPU-A, {table}: measured A)'
            ) in out
    # No fine-tuning figure: no estimate, and the plan says why.
    assert (f'{table} has no measured images/s per GPU for SwinV2 base finetune at 224 px on '
            "a GPU matching 'gpu-a'") in out
    sweep.main(argv + ['--images-per-second', '500'])  # the override prices every run alike
    assert capsys.readouterr().out.count('at 500 images/s per GPU (--images-per-second)') == 4
