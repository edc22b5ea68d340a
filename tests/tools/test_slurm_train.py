"""tools/slurm_train.sh with stand-ins for sbatch, srun and scontrol: it submits a batch
job that asks for the early signal and requeue, and in the job it requeues itself when the
training stopped at a preemption signal, then continues with --resume."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]

# Each stand-in appends its arguments to calls.txt. srun plays a training stopped by a
# preemption signal: it leaves the note the training processes write, and exits with 0.
FAKES = {
    'sbatch': 'echo "sbatch $*" >> "$CALLS"; echo "Submitted batch job 7"',
    'srun': 'echo "srun $*" >> "$CALLS"\n'
            '[[ -n ${PREEMPT:-} ]] && echo "Preempted after iteration 3." > '
            '"$MIM_SCALING_PREEMPTED_FILE"\nexit 0',
    'scontrol': 'echo "scontrol $*" >> "$CALLS"',
}


def slurm_train(tmp_path, **env):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        (bin_dir / name).write_text(f'#!/usr/bin/env bash\n{body}\n')
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / 'calls.txt'
    calls.write_text('')
    environ = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
    environ.update(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', CALLS=str(calls), **env)
    result = subprocess.run(
        ['bash', str(ROOT / 'tools/slurm_train.sh'), 'gpu', 'pretrain', 'CONFIG.py',
         str(tmp_path / 'work'), '--amp'], env=environ, capture_output=True, text=True)
    return result, calls.read_text().splitlines()


def test_outside_a_job_it_submits_one_asking_for_the_early_signal_and_requeue(tmp_path):
    result, calls = slurm_train(tmp_path, GPUS='16', TIME='1-00:00:00')
    assert result.returncode == 0, result.stderr
    [call] = calls
    assert call.startswith('sbatch --partition=gpu --job-name=pretrain --ntasks=16 ')
    for option in ('--requeue', '--signal=USR1@600', '--time=1-00:00:00',
                   f'--output={tmp_path}/work/slurm-%j.out', '--open-mode=append'):
        assert f' {option} ' in call
    assert call.endswith(f'tools/slurm_train.sh gpu pretrain CONFIG.py {tmp_path}/work --amp')


def test_in_a_job_a_preempted_training_requeues_it(tmp_path):
    result, calls = slurm_train(tmp_path, SLURM_JOB_ID='7', PREEMPT='1')
    assert result.returncode == 75, result.stderr
    srun, scontrol = calls
    assert srun.endswith(f'--work-dir={tmp_path}/work --launcher=slurm --amp')
    assert scontrol == 'scontrol requeue 7'
    assert 'Preempted after iteration 3.' in result.stderr
    assert not (tmp_path / 'work' / 'preempted-7').exists()


def test_a_requeued_job_resumes_and_a_finished_one_is_not_requeued(tmp_path):
    result, calls = slurm_train(tmp_path, SLURM_JOB_ID='7', SLURM_RESTART_COUNT='1')
    assert result.returncode == 0, result.stderr
    [srun] = calls
    assert srun.endswith('--launcher=slurm --amp --resume')


def test_a_signal_for_the_batch_shell_alone_is_refused(tmp_path):
    # --signal=B:USR1@600 signals only the batch shell, which dies (138) without the
    # training processes saving: the job would be neither saved nor requeued.
    result, calls = slurm_train(tmp_path, SIGNAL='B:USR1@600')
    assert result.returncode == 2
    assert not calls
    assert "SIGNAL=B:USR1@600 would signal only the batch shell" in result.stderr
    assert 'SIGNAL=USR1@600' in result.stderr
