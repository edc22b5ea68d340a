"""Checkpoint files on a local disk: written atomically, found intact for resuming.

A file is written to a temporary name, flushed to the disk and renamed into place, so a
run killed while saving leaves either the previous file or the new one, never a truncated
one. When resuming, the newest checkpoint that is intact is taken, and any newer one that
is not is named with the reason it was skipped.
"""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

__all__ = ['TMP_SUFFIX', 'publish', 'write_text_atomically', 'checkpoint_problem',
           'find_resumable_checkpoint']

TMP_SUFFIX = '.tmp'
_STEP = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def _fsync_directory(directory: str) -> None:
    # The rename itself is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp_path: str, path: str) -> None:
    """Flushes ``tmp_path`` to the disk and renames it to ``path`` in one step."""
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_directory(osp.dirname(osp.abspath(path)))


def write_text_atomically(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` through a flushed temporary file and a rename."""
    tmp_path = path + TMP_SUFFIX
    with open(tmp_path, 'w', encoding='utf-8') as f:
        f.write(text)
    publish(tmp_path, path)


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be a checkpoint of ``torch.save`` (zip format), or None.

    Reads the archive's directory (at its end, so a truncated file fails here) and the
    pickle of the object tree with its checksum; tensor data is read when loading.
    """
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith('data.pkl')]
            if not pickles:
                return 'it is a zip archive but not a PyTorch checkpoint (no data.pkl)'
            archive.read(pickles[0])
    except zipfile.BadZipFile as error:
        return (f'it is not a complete zip archive ({error}); the save that wrote it was '
                'probably interrupted')
    except (OSError, EOFError, ValueError) as error:
        return f'it cannot be read ({error})'
    return None


def _older_checkpoints(directory: str, below: Optional[int] = None) -> List[str]:
    steps = []
    for name in os.listdir(directory) if osp.isdir(directory) else []:
        match = _STEP.match(name)
        if match and (below is None or int(match.group(1)) < below):
            steps.append((int(match.group(1)), osp.join(directory, name)))
    return [path for _, path in sorted(steps, reverse=True)]


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume the run of ``work_dir`` from; None if it has none.

    That is the checkpoint named in ``work_dir/last_checkpoint`` if it is intact, else the
    newest intact ``iter_N.pth`` / ``epoch_N.pth`` older than it (next to it); without a
    usable ``last_checkpoint``, the newest intact one in ``work_dir``. Every file skipped
    is logged with the reason; if checkpoints exist but none is intact, it raises rather
    than let a fresh start rotate them away.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            named = f.read().strip() or None
        if named is None:
            print_log(f'{pointer} is empty (a save was interrupted?); looking for the newest '
                      f'intact checkpoint in {work_dir} instead.', logger='current',
                      level=logging.WARNING)
    if named is None:
        candidates = _older_checkpoints(work_dir)
    else:
        match = _STEP.match(osp.basename(named))
        candidates = [named] + _older_checkpoints(
            osp.dirname(named), int(match.group(1)) if match else None)
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        print_log(f'Skipping checkpoint {path} for resuming: {problem}.', logger='current',
                  level=logging.WARNING)
    if candidates:
        raise RuntimeError(
            f'None of the {len(candidates)} checkpoint(s) of {work_dir} can be resumed from '
            '(reasons above). Resume from a checkpoint elsewhere with --resume PATH, or move '
            'them away to start afresh.')
    return None
