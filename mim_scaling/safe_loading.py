"""Safe checkpoint loading on PyTorch >= 2.6, with ``weights_only`` kept on.

Since PyTorch 2.6 ``torch.load`` unpickles only allow-listed globals by default. mmengine's
own checkpoints hold a few more (``HistoryBuffer`` and the numpy arrays and scalars of the
message hub), so resuming a Runner fails; turning ``weights_only`` off would let any
checkpoint run code on load. Importing this module instead

* allow-lists the known-safe types that mmengine checkpoints contain (:data:`SAFE_GLOBALS`),
* replaces mmengine's loaders for local files and http(s) URLs (and so ``torchvision://``,
  ``open-mmlab://`` and ``mmcls://``, which download through the latter) by ones that load
  with ``weights_only=True`` and turn a refused global into an :class:`UnsafeCheckpointError`
  naming the file and the global,
* offers :func:`load_foreign_checkpoint` for checkpoints of other code bases that pickle
  objects of their own (e.g. the yacs ``CfgNode`` next to the weights of the SimMIM
  release): their classes are replaced by inert stand-ins, so nothing of the file runs.

Everything happens at import and is idempotent; ``import mim_scaling`` does it.
"""
import os.path as osp
import pickle
import re
from collections import OrderedDict
from urllib.parse import urlparse

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.runner import checkpoint as mmengine_checkpoint

__all__ = [
    'SAFE_GLOBALS', 'UnsafeCheckpointError', 'ForeignObject', 'ForeignList', 'safe_load',
    'load_foreign_checkpoint', 'load_from_local', 'load_from_http'
]


def _numpy_globals():
    """What pickled numpy arrays, scalars and dtypes need: data only, no code."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries = [np.ndarray, np.dtype]
    # Files written under numpy 1.x name these functions numpy.core.*, under 2.x numpy._core.*.
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    # A dtype is restored by BUILD, which checks the dtype's concrete class (numpy >= 1.25).
    entries += [cls for cls in vars(np.dtypes).values()
                if isinstance(cls, type) and issubclass(cls, np.dtype)]
    return entries


# HistoryBuffer pickles its registry of statistics functions, which pickle reaches as
# getattr(HistoryBuffer, 'mean'). Allowing getattr itself would let a file read any
# attribute of any allow-listed object, so the name resolves to this narrow version.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _restricted_getattr(obj, name):
    """``getattr`` for unpickling: HistoryBuffer's statistics and attributes of stand-ins."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    if isinstance(obj, (ForeignObject, ForeignList)) or (isinstance(obj, type) and issubclass(
            obj, (ForeignObject, ForeignList, _ForeignMapping))):
        return _stand_in(f'{obj.foreign_class}.{name}', ForeignObject)
    owner = obj.__qualname__ if isinstance(obj, type) else f'a {type(obj).__name__}'
    raise pickle.UnpicklingError(
        f'getattr({owner}, {name!r}) is not allowed: unpickling may only look up '
        f'HistoryBuffer.{"/".join(_HISTORY_BUFFER_STATISTICS)}')


#: Globals allow-listed for ``weights_only`` loading: found by saving and resuming Runners.
SAFE_GLOBALS = [HistoryBuffer, (_restricted_getattr, 'builtins.getattr'), *_numpy_globals()]
torch.serialization.add_safe_globals(SAFE_GLOBALS)

# torch refuses globals of these modules before it looks at any allow-list.
_BLOCKED_MODULES = ('os', 'sys', 'posix', 'nt')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint pickles globals that are not allow-listed; nothing of it was executed."""

    def __init__(self, path, unsafe_globals=(), detail=''):
        self.path, self.unsafe_globals = path, list(unsafe_globals)
        if self.unsafe_globals:
            what = ('it pickles globals that are not allow-listed for safe loading: ' +
                    ', '.join(self.unsafe_globals) + '. Nothing from the file was executed. '
                    'If these globals are plain data you trust, allow-list them with '
                    'torch.serialization.add_safe_globals')
        else:
            what = (f'torch refused it with weights_only=True: {detail} '
                    'Nothing from the file was executed')
        super().__init__(
            f'Refused to load checkpoint {path}: {what}. To read the tensors of a checkpoint '
            'from another code base, use mim_scaling.safe_loading.load_foreign_checkpoint.')


def _existing_file(path):
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint file not found: {path}')
    return path


def _unsafe_globals(path):
    """Globals of ``path`` that weights_only loading would refuse, read without unpickling."""
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (ValueError, pickle.UnpicklingError, EOFError):
        return []  # not a zip checkpoint, or opcodes torch cannot scan: only torch's own words


def _torch_detail(error):
    """torch's reason for a refusal, without its advice to switch weights_only off."""
    text = str(error).rsplit('WeightsUnpickler error:', 1)[-1]
    text = text.replace(torch.serialization.UNSAFE_MESSAGE, '')
    text = re.sub(r'Check the documentation of torch\.load.*', '', text, flags=re.S)
    return ' '.join(text.replace('Weights only load failed.', '').split())


def safe_load(path, map_location=None):
    """``torch.load(path, weights_only=True)`` with clear errors for missing or unsafe files."""
    path = _existing_file(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(path, _unsafe_globals(path), _torch_detail(error)) from None


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename, map_location):
    """mmengine's loader for local files, made safe (the name gives its log line 'local')."""
    return safe_load(filename, map_location)


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), force=True)
def load_from_http(filename, map_location=None, model_dir=None):
    """Downloads to torch's hub cache (rank 0 first) and loads the file safely."""

    def load():
        try:
            return torch.hub.load_state_dict_from_url(
                filename, model_dir=model_dir, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            cached = osp.join(model_dir or osp.join(torch.hub.get_dir(), 'checkpoints'),
                              osp.basename(urlparse(filename).path))
            raise UnsafeCheckpointError(
                f'{filename} (cached as {cached})', _unsafe_globals(cached),
                _torch_detail(error)) from None

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = load()
    if world_size > 1:
        dist.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


# torchvision://, open-mmlab:// and mmcls:// resolve a URL and call this module-level name;
# mmengine's version loads with torch.hub's default weights_only=False.
mmengine_checkpoint.load_from_http = load_from_http


class ForeignObject:
    """Inert stand-in for an object of a class that was not allow-listed.

    It keeps the constructor arguments and pickled state as plain data and defines no
    behaviour; ``foreign_class`` names the class the file referred to.
    """
    foreign_class = ''

    def __new__(cls, *args):
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args):
        pass  # everything was kept by __new__

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f'ForeignObject({self.foreign_class}, args={self.args!r}, state={self.state!r})'


class ForeignList(list):
    """Inert stand-in for an object of a list subclass that was not allow-listed."""
    foreign_class = ''

    def __new__(cls, *args):
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args):
        super().__init__()  # the items arrive through APPENDS, not through the arguments

    def __setstate__(self, state):
        self.state = state


class _ForeignMapping:
    """Stand-in for a dict subclass: torch only fills exact dicts, so this makes one.

    The result is an ``OrderedDict`` holding the items; the pickled attributes and the
    name of the foreign class land in its ``__dict__`` (``__foreign_class__``).
    """
    foreign_class = ''

    def __new__(cls, *args):
        mapping = OrderedDict()
        mapping.__foreign_class__ = cls.foreign_class
        return mapping


def _stand_in(name, base):
    qualname = f'{base.__name__}[{name}]'
    return type(qualname, (base, ), dict(foreign_class=name, __qualname__=qualname))


def load_foreign_checkpoint(path, map_location='cpu'):
    """Loads a checkpoint of another code base with ``weights_only=True``.

    Each global that is not allow-listed is mapped to an inert stand-in: instances become
    :class:`ForeignObject` (or :class:`ForeignList`, or an ``OrderedDict`` for dict
    subclasses such as yacs' ``CfgNode``), functions are never called. Tensors come back
    intact. Globals of ``os``/``sys`` cannot be mapped and raise
    :class:`UnsafeCheckpointError`.
    """
    path = _existing_file(path)
    try:
        unknown = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except ValueError as error:
        raise ValueError(f'{path}: load_foreign_checkpoint reads checkpoints in the zip format '
                         f'of torch.save (PyTorch >= 1.6) only ({error})') from None
    blocked = [name for name in unknown if name.split('.')[0] in _BLOCKED_MODULES]
    if blocked:
        raise UnsafeCheckpointError(path, blocked)
    stand_ins = {name: _stand_in(name, ForeignObject) for name in unknown}
    # Which classes are containers shows only while unpickling: torch fills exact dicts and
    # lists only, and names the stand-in it refused. Each retry upgrades one ForeignObject
    # stand-in, so the loop ends.
    while True:
        with torch.serialization.safe_globals([(cls, name) for name, cls in stand_ins.items()]):
            try:
                return torch.load(path, map_location=map_location, weights_only=True)
            except pickle.UnpicklingError as error:
                message = str(error)
                refused = [name for name, cls in stand_ins.items()
                           if issubclass(cls, ForeignObject) and repr(cls) in message]
                if refused and 'SETITEM' in message:
                    stand_ins[refused[0]] = _stand_in(refused[0], _ForeignMapping)
                elif refused and 'append' in message:
                    stand_ins[refused[0]] = _stand_in(refused[0], ForeignList)
                else:
                    raise UnsafeCheckpointError(path, detail=_torch_detail(error)) from None
