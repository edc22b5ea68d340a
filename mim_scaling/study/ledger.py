"""What became of the jobs a sweep submitted or started: a ledger in each run's work dir, and
the state of a run from it, from slurm and from the run's final checkpoint.

``<work_dir>/sweep_jobs.json`` lists every submission of the run, oldest first: launcher,
command, time, the slurm job id (``--launcher slurm``) or the host and process id
(``dist``, ``local``), and the state last recorded. It is rewritten atomically (a temporary
file flushed and renamed over it), so a crash leaves the old or the new ledger, never half of one.

A run's state (:func:`run_state`), in this order:

- ``finished``: its final checkpoint exists, whatever the ledger says;
- slurm: ``queued`` or ``running`` while ``squeue`` lists the job; else ``failed`` or
  ``cancelled`` as ``sacct`` reports its end (a job that completed without the final
  checkpoint failed);
- dist and local: ``running`` while the recorded process lives (same host, same process
  start time, so a reused process id is not mistaken for it); else what the sweep recorded
  when it ended: ``failed`` (with the exit status and error line), ``stopped`` (preempted
  after a checkpoint, or killed without a word);
- ``not started``: no submission.

A sweep submits or starts a run again only in the states of :data:`RESTARTABLE`.
"""
import json
import os
import socket
import subprocess
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

from mim_scaling.engine.checkpointing.integrity import write_text_atomically

LEDGER_NAME = 'sweep_jobs.json'
# States in which a sweep submits or starts the run (again); --resume continues it.
RESTARTABLE = ('not started', 'failed', 'cancelled', 'stopped')

# slurm's job states (squeue %T, sacct State) by what they mean for a rerun.
SLURM_QUEUED = {'PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD',
                'SPECIAL_EXIT'}
SLURM_RUNNING = {'RUNNING', 'CONFIGURING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT',
                 'RESIZING', 'SUSPENDED', 'STOPPED'}
SLURM_CANCELLED = {'CANCELLED', 'REVOKED', 'DEADLINE'}


class SlurmError(RuntimeError):
    """slurm could not say whether a job is still queued or running."""


@dataclass
class Submission:
    """One submission (slurm) or start (dist, local) of a run."""
    launcher: str
    command: List[str]
    time: str  # ISO 8601, UTC
    state: str  # as last recorded: submitted, running, finished, failed, stopped
    job_id: Optional[str] = None  # slurm
    dependency: Optional[str] = None  # slurm: the job it waits for (afterok)
    host: Optional[str] = None  # dist, local: where the process runs
    pid: Optional[int] = None
    pid_start: Optional[int] = None  # the process's start time (Linux clock ticks)
    output: Optional[str] = None  # the file that receives the job's output
    exit_status: Optional[int] = None
    error: Optional[str] = None  # the error line of a failed run


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec='seconds')


def process_start(pid: int) -> Optional[int]:
    """The start time of a process (field 22 of ``/proc/<pid>/stat``); None where there is
    no such process or no ``/proc``."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    return int(stat.rsplit(')', 1)[1].split()[19])  # the name may hold spaces and ')'


def this_process() -> dict:
    """host, pid and pid_start of the calling process, for a :class:`Submission`."""
    return dict(host=socket.gethostname(), pid=os.getpid(), pid_start=process_start(os.getpid()))


def _alive(pid: Optional[int], start: Optional[int]) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (on this host)."""
    if pid is None:
        return False
    if start is not None:
        return process_start(pid) == start
    try:  # no /proc where it started: the process id alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process holds it
    return True


class Ledger:
    """The submissions of the run in ``work_dir`` (file :data:`LEDGER_NAME`)."""

    def __init__(self, work_dir) -> None:
        self.path = Path(work_dir) / LEDGER_NAME

    def entries(self) -> List[Submission]:
        if not self.path.is_file():
            return []
        try:
            records = json.loads(self.path.read_text())['jobs']
            known = {f.name for f in fields(Submission)}
            return [Submission(**{k: v for k, v in r.items() if k in known}) for r in records]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f'{self.path} is not a ledger of tools/sweep.py ({e}); move it '
                             'away if the run is not queued or running') from None

    def latest(self) -> Optional[Submission]:
        entries = self.entries()
        return entries[-1] if entries else None

    def add(self, submission: Submission) -> None:
        self._write(self.entries() + [submission])

    def update_latest(self, **changes) -> None:
        entries = self.entries()
        for key, value in changes.items():
            setattr(entries[-1], key, value)
        self._write(entries)

    def _write(self, entries: List[Submission]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(str(self.path),
                              json.dumps({'jobs': [asdict(e) for e in entries]}, indent=1) + '\n')


def slurm_state(job_id: str) -> str:
    """slurm's state of a job (``PENDING``, ``RUNNING``, ``FAILED``, ...), or '' when slurm
    no longer knows it; :class:`SlurmError` when slurm cannot be asked."""
    queue = _slurm(['squeue', '--noheader', '--format=%T', f'--jobs={job_id}'])
    if queue.returncode == 0 and queue.stdout.strip():
        return queue.stdout.split()[0]
    if queue.returncode != 0 and 'invalid job id' not in queue.stderr.lower():
        raise SlurmError(f'squeue failed ({queue.returncode}) on job {job_id}: '
                         f'{queue.stderr.strip()}')
    # Not in the queue: ended. Without accounting, sacct fails and the end is unknown.
    history = _slurm(['sacct', '--noheader', '--parsable2', '--allocations',
                      '--format=State', f'--jobs={job_id}'])
    lines = history.stdout.split() if history.returncode == 0 else []
    return lines[0] if lines else ''  # 'CANCELLED by 1234' -> 'CANCELLED'


def _slurm(command: List[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise SlurmError(f'{command[0]} not found: run the sweep where slurm\'s commands '
                         'are') from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f'{command[0]} gave no answer in 120 s') from None


@dataclass
class RunState:
    """Where a run stands; ``submission`` is the ledger's latest entry, if any."""
    state: str  # finished, queued, running, failed, cancelled, stopped, not started
    submission: Optional[Submission] = None
    detail: str = ''  # e.g. the slurm state or the exit status
    notes: List[str] = field(default_factory=list)

    @property
    def restartable(self) -> bool:
        return self.state in RESTARTABLE


def run_state(work_dir, finished: bool) -> RunState:
    """The state of the run in ``work_dir`` (module docstring); ``finished``: its final
    checkpoint exists."""
    entry = Ledger(work_dir).latest()
    if finished:
        return RunState('finished', entry)
    if entry is None:
        return RunState('not started')
    if entry.launcher == 'slurm':
        state = slurm_state(entry.job_id)
        if state in SLURM_QUEUED:
            return RunState('queued', entry, state)
        if state in SLURM_RUNNING:
            return RunState('running', entry, state)
        if state in SLURM_CANCELLED:
            return RunState('cancelled', entry, state)
        if state == 'COMPLETED':
            return RunState('failed', entry, 'completed without its final checkpoint')
        return RunState('failed', entry, state or 'ended; sacct does not say how')
    if entry.state == 'running':
        if entry.host != socket.gethostname():
            return RunState('running', entry, f'on {entry.host}, process {entry.pid}', [
                f'this machine cannot check it: run the sweep on {entry.host}, or, if that '
                f'process is gone, remove the last entry of {Ledger(work_dir).path}'])
        if _alive(entry.pid, entry.pid_start):
            return RunState('running', entry, f'process {entry.pid}')
        return RunState('stopped', entry, 'its process ended without recording how')
    if entry.state == 'stopped':
        return RunState('stopped', entry, 'preempted after saving a checkpoint')
    if entry.state == 'finished':
        return RunState('failed', entry, 'ended with status 0 without its final checkpoint')
    return RunState('failed', entry, f'exit status {entry.exit_status}')
