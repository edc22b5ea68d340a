"""How far a training has come, read from its logs: the last training iteration in mmengine's
text log with the time per iteration and when the run should end, and the error line of a
failed job's output."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional, Union

__all__ = ['Progress', 'read_progress', 'error_line']

# mmengine's log line of a training iteration, iteration- or epoch-based, with its time per
# iteration (the mean over the logging interval).
_TRAIN_LINE = re.compile(
    r'^(?P<when>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - \S+ - \w+ - '
    r'(?:Iter\(train\) \[\s*(?P<iter>\d+)/(?P<max_iters>\d+)\]'
    r'|Epoch\(train\)\s*\[(?P<epoch>\d+)\]\[\s*(?P<batch>\d+)/(?P<batches>\d+)\])'
    r'.*?\stime: (?P<time>\d+(?:\.\d*)?)')
_RECENT = 5  # logged lines whose time per iteration is averaged
_TAIL_BYTES = 1 << 18  # where the last iterations of a long log are

# A Python exception as a traceback ends (torchrun may prefix a worker's lines with its rank).
_EXCEPTION = re.compile(r'^(?:\[rank\d+\]:\s*)?(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*'
                        r'(?:Error|Exception|Interrupt)(?::.*)?$')
_ERROR = re.compile(r'\berror\b', re.IGNORECASE)


@dataclass
class Progress:
    """The last logged training iteration of a run and the recent time per iteration."""
    iteration: int
    total: int  # iterations of the whole run
    seconds_per_iteration: float
    logged_at: datetime  # when the line was logged (the training machine's clock)

    @property
    def remaining_seconds(self) -> float:
        return max(self.total - self.iteration, 0) * self.seconds_per_iteration

    @property
    def end(self) -> datetime:
        """When the run should end at its recent pace (the training machine's clock)."""
        return self.logged_at + timedelta(seconds=self.remaining_seconds)


def _logs(work_dir: Path) -> List[Path]:
    """mmengine's text logs of a work dir, newest first (``<timestamp>/<timestamp>.log``;
    each start or resume of a run makes a new one)."""
    return sorted((path for path in Path(work_dir).glob('*/*.log')
                   if path.stem == path.parent.name), reverse=True)


def _tail(path: Path) -> List[str]:
    with open(path, 'rb') as f:
        f.seek(0, 2)
        f.seek(max(f.tell() - _TAIL_BYTES, 0))
        return f.read().decode('utf-8', errors='replace').splitlines()


def read_progress(work_dir: Union[str, Path],
                  max_epochs: Optional[int] = None) -> Optional[Progress]:
    """The progress of the run in ``work_dir`` from its newest log with a training line;
    None if none has one. ``max_epochs``: the run's epochs, for an epoch-based run (its log
    counts iterations within an epoch)."""
    for log in _logs(Path(work_dir)):
        matches = [m for m in map(_TRAIN_LINE.match, _tail(log)) if m]
        if not matches:
            continue
        last = matches[-1]
        if last['iter']:
            iteration, total = int(last['iter']), int(last['max_iters'])
        else:
            batches = int(last['batches'])
            iteration = (int(last['epoch']) - 1) * batches + int(last['batch'])
            total = (max_epochs or int(last['epoch'])) * batches
        recent = [float(m['time']) for m in matches[-_RECENT:]]
        return Progress(iteration, total, sum(recent) / len(recent),
                        datetime.strptime(last['when'], '%Y/%m/%d %H:%M:%S'))
    return None


def error_line(path: Union[str, Path, None]) -> Optional[str]:
    """The line of a job's output that says why it failed: the last Python exception (not
    torchrun's summary of its workers' failure), else the last line naming an error."""
    if path is None or not Path(path).is_file():
        return None
    lines = [line.strip() for line in _tail(Path(path)) if line.strip()]
    exceptions = [line for line in lines
                  if _EXCEPTION.match(line) and 'ChildFailedError' not in line]
    if exceptions:
        return exceptions[-1]
    errors = [line for line in lines if _ERROR.search(line)]
    return errors[-1] if errors else None
