"""mmengine's local storage backend, writing each file atomically.

Registered in mmengine's file backends as ``mim_scaling_atomic_local``, so that anything
saving through mmengine's file I/O with ``backend_args=dict(backend=ATOMIC_LOCAL_BACKEND)``
(``Runner.save_checkpoint`` included) writes to a temporary name, flushes the file to the
disk and renames it into place: a process killed while saving never leaves a truncated
file under the real name.
"""
import contextlib
import os.path as osp
from pathlib import Path
from typing import Iterator, List, Optional, Union

import mmengine
from mmengine.fileio import LocalBackend, register_backend

from .integrity import TMP_SUFFIX, publish

__all__ = ['ATOMIC_LOCAL_BACKEND', 'AtomicLocalBackend']

ATOMIC_LOCAL_BACKEND = 'mim_scaling_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` is atomic, and whose removals can be held back
    (:meth:`removals_deferred`) until what replaces the removed files is in place."""

    def __init__(self) -> None:
        super().__init__()
        self._deferred: Optional[List[str]] = None

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        filepath = str(filepath)
        mmengine.mkdir_or_exist(osp.dirname(filepath))
        tmp_path = filepath + TMP_SUFFIX
        with open(tmp_path, 'wb') as f:
            f.write(obj)
        publish(tmp_path, filepath)

    def remove(self, filepath: Union[str, Path]) -> None:
        if self._deferred is not None:
            self._deferred.append(str(filepath))
            return
        super().remove(filepath)

    @contextlib.contextmanager
    def removals_deferred(self) -> Iterator[List[str]]:
        """Within the block, :meth:`remove` only lists the paths (yielded) for the caller to
        remove once it is safe."""
        self._deferred = []
        try:
            yield self._deferred
        finally:
            self._deferred = None


register_backend(ATOMIC_LOCAL_BACKEND, AtomicLocalBackend)
