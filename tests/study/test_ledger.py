"""mim_scaling.study.ledger: the submissions recorded in a run's work dir, and the state of
the run from them, its final checkpoint and the process that runs it."""
import json
import os
import subprocess
import sys

import pytest

from mim_scaling.study.ledger import Ledger, Submission, run_state, this_process


def test_the_ledger_is_rewritten_whole_and_read_back(tmp_path):
    ledger = Ledger(tmp_path / 'run')
    assert ledger.entries() == [] and run_state(tmp_path / 'run', False).state == 'not started'
    ledger.add(Submission('slurm', ['bash', 'x.sh'], '2026-12-06T01:00:00+00:00', 'submitted',
                          job_id='7'))
    ledger.update_latest(state='failed')
    ledger.add(Submission('slurm', ['bash', 'x.sh'], '2026-12-06T02:00:00+00:00', 'submitted',
                          job_id='8'))
    assert [(e.job_id, e.state) for e in ledger.entries()] == [('7', 'failed'),
                                                               ('8', 'submitted')]
    assert os.listdir(tmp_path / 'run') == ['sweep_jobs.json']  # no temporary file left
    assert json.loads(ledger.path.read_text())['jobs'][1]['job_id'] == '8'
    ledger.path.write_text('{"jobs": [')  # not a ledger
    with pytest.raises(ValueError, match='sweep_jobs.json is not a ledger of tools/sweep.py'):
        ledger.entries()


def test_a_local_run_is_running_while_its_process_lives(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.add(Submission('local', ['train'], 'now', 'running', **this_process()))
    assert run_state(tmp_path, finished=False).state == 'running'
    assert run_state(tmp_path, finished=True).state == 'finished'  # the checkpoint decides
    # A process that has ended, without recording how (e.g. killed with SIGKILL):
    ended = subprocess.Popen([sys.executable, '-c', 'pass'])
    ended.wait()
    ledger.update_latest(pid=ended.pid)
    assert run_state(tmp_path, False).state == 'stopped'
    # Recorded as running on another machine: left alone, with a way out.
    ledger.update_latest(host='elsewhere')
    state = run_state(tmp_path, False)
    assert state.state == 'running' and 'run the sweep on elsewhere' in state.notes[0]
    for recorded, expected in (('failed', 'failed'), ('stopped', 'stopped'),
                               ('finished', 'failed')):  # status 0, no final checkpoint
        ledger.update_latest(state=recorded)
        assert run_state(tmp_path, False).state == expected
