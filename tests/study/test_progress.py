"""mim_scaling.study.progress: how far a run has come, from mmengine's text logs, and the
error line of a failed job's output."""
from datetime import datetime

from mim_scaling.study.progress import error_line, read_progress


def log(work_dir, stamp, *lines):
    path = work_dir / stamp / f'{stamp}.log'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(f'{line}\n' for line in lines))


def epoch_line(when, epoch, batch, seconds):
    return (f'2026/12/06 {when} - mmengine - INFO - Epoch(train)  [{epoch}][{batch:>3}/625]  '
            f'lr: 1.0000e-03  eta: 1:00:00  time: {seconds:.4f}  data_time: 0.0100  '
            'memory: 9000  loss: 3.2000')


def test_an_epoch_based_run_is_read_from_its_newest_log_with_training_lines(tmp_path):
    log(tmp_path, '20261206_010000', epoch_line('01:00:00', 1, 100, 9.0))
    log(tmp_path, '20261206_020000', *[epoch_line(f'02:{i:02d}:00', 3, 100 * i, 0.1 * i)
                                       for i in range(1, 7)])
    log(tmp_path, '20261206_030000', '2026/12/06 03:00:00 - mmengine - INFO - Config:')
    progress = read_progress(tmp_path, max_epochs=100)
    # Epoch 3, batch 600 of 625: iteration 2 x 625 + 600 = 1850 of 100 x 625 = 62,500; the
    # last five lines' times 0.2 .. 0.6 s average 0.4 s.
    assert (progress.iteration, progress.total) == (1850, 62_500)
    assert abs(progress.seconds_per_iteration - 0.4) < 1e-12
    assert progress.logged_at == datetime(2026, 12, 6, 2, 6)
    assert abs(progress.remaining_seconds - (62_500 - 1850) * 0.4) < 1e-6
    assert read_progress(tmp_path / 'none') is None


def test_the_error_line_is_the_last_exception_of_the_failed_process(tmp_path):
    out = tmp_path / 'job.out'
    out.write_text(
        '[rank0]: Traceback (most recent call last):\n'
        "[rank0]: KeyError: 'img_size'\n"
        'torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n'
        'srun: error: node3: task 0: Exited with exit code 1\n')
    assert error_line(out) == "[rank0]: KeyError: 'img_size'"
    out.write_text('slurmstepd: error: *** JOB 7 ON node3 CANCELLED DUE TO TIME LIMIT ***\n'
                   'done\n')
    assert error_line(out) == 'slurmstepd: error: *** JOB 7 ON node3 CANCELLED DUE TO TIME ' \
        'LIMIT ***'
    out.write_text('all well\n')
    assert error_line(out) is None and error_line(tmp_path / 'none') is None
