"""Safe checkpoint loading: mmengine Runners resume with weights_only kept on, checkpoints
that pickle callables are refused before anything runs, foreign checkpoints load inertly."""
import argparse
import builtins
import functools
import http.server
import os
import os.path as osp
import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import CheckpointLoader, load_checkpoint

from mim_scaling.safe_loading import (ForeignList, ForeignObject, UnsafeCheckpointError,
                                      load_foreign_checkpoint)

TOY_DIR = osp.join(osp.dirname(__file__), '_toy')


@pytest.fixture
def toy_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task
    return Config.fromfile(toy_task.write_config(str(tmp_path)))


def run_toy(*args, **kwargs):
    import toy_task  # on the path once the toy_config fixture has run
    return toy_task.train(*args, **kwargs)


class RecordIterations(Hook):

    def __init__(self):
        self.iterations = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iterations.append(runner.iter)


def test_runner_resumes_from_its_checkpoint_with_weights_only_loading(
        toy_config, tmp_path, monkeypatch):
    work_dir = tmp_path / 'interrupted'
    run_toy(toy_config, work_dir, 'first_4', max_iters=4)
    assert (work_dir / 'iter_4.pth').is_file()

    calls = []
    torch_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return torch_load(*args, **kwargs)

    record = RecordIterations()
    with monkeypatch.context() as patch:
        patch.setattr(torch, 'load', spy)
        resumed = run_toy(toy_config, work_dir, 'resumed_to_6', max_iters=6, resume=True,
                          hooks=[record])

    assert calls and all(weights_only is True for weights_only in calls)
    assert record.iterations == [4, 5]
    assert resumed.iter == 6
    # Same data order, optimizer momentum and weights as a run that was never interrupted.
    straight = run_toy(toy_config, tmp_path / 'straight', 'straight_6', max_iters=6)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)


def test_mmengine_checkpoint_needs_the_allow_list(toy_config, tmp_path):
    run_toy(toy_config, tmp_path, 'allow_list', max_iters=2)
    checkpoint = str(tmp_path / 'iter_2.pth')
    allow_list = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(UnsafeCheckpointError, match='HistoryBuffer'):
            CheckpointLoader.load_checkpoint(checkpoint)
    finally:
        torch.serialization.add_safe_globals(allow_list)
    loaded = CheckpointLoader.load_checkpoint(checkpoint)
    assert loaded['meta']['iter'] == 2
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'].data[0], np.ndarray)


@pytest.mark.parametrize('value', [
    np.zeros((2, 3), dtype=np.float16), np.arange(3), np.array([1 + 2j]), np.array(['a', 'bc']),
    np.zeros(2, dtype=[('a', 'i4'), ('b', 'f8')]), np.float64(0.25), np.int64(7), np.bool_(True),
    np.dtype('uint8')
], ids=lambda value: f'{type(value).__name__}-{getattr(value, "dtype", value)}')
def test_numpy_values_load_safely(tmp_path, value):
    # Metrics and message-hub entries are numpy arrays and scalars (e.g. mmseg's mIoU).
    path = str(tmp_path / 'numpy.pth')
    torch.save({'value': value}, path)
    loaded = CheckpointLoader.load_checkpoint(path)['value']
    assert type(loaded) is type(value)
    np.testing.assert_array_equal(loaded, value)


def write_marker(path):
    """What a malicious checkpoint would call on load; only the marker file shows it ran."""
    with open(path, 'w') as f:
        f.write('executed')


class CallsOnLoad:
    """Unpickling an instance calls ``function(*args)``."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def exploits(marker):
    return {
        'os.system': CallsOnLoad(os.system, f'touch {marker}'),
        'builtins.exec': CallsOnLoad(builtins.exec, f'open({str(marker)!r}, "w").close()'),
        'module function': CallsOnLoad(write_marker, str(marker)),
    }


@pytest.mark.parametrize('kind', ['os.system', 'builtins.exec', 'module function'])
def test_checkpoint_with_pickled_callable_is_refused_before_it_runs(tmp_path, kind):
    marker = tmp_path / 'marker'
    path = tmp_path / 'exploit.pth'
    torch.save({'state_dict': {'weight': torch.ones(2)}, 'meta': exploits(marker)[kind]}, path)
    model = torch.nn.Linear(2, 1)

    with pytest.raises(UnsafeCheckpointError) as error:
        load_checkpoint(model, str(path))

    message = str(error.value)
    assert str(path) in message and 'Nothing from the file was executed' in message
    expected = {'os.system': f'{os.system.__module__}.system', 'builtins.exec': 'builtins.exec',
                'module function': f'{__name__}.write_marker'}[kind]
    assert error.value.unsafe_globals == [expected] and expected in message
    assert not marker.exists()


def test_pickled_function_object_is_refused(tmp_path):
    path = tmp_path / 'function.pth'
    torch.save({'weight': torch.ones(1), 'hook': write_marker}, path)
    with pytest.raises(UnsafeCheckpointError, match=f'{__name__}.write_marker'):
        CheckpointLoader.load_checkpoint(str(path))


def test_pickled_attribute_lookup_is_refused(tmp_path):
    # mmengine's HistoryBuffer needs getattr(HistoryBuffer, 'mean'); nothing else may use it.
    path = tmp_path / 'getattr.pth'
    torch.save({'weight': torch.ones(1), 'method': CallsOnLoad(getattr, torch.Tensor, 'add_')},
               path)
    with pytest.raises(UnsafeCheckpointError, match="getattr\\(Tensor, 'add_'\\) is not allowed"):
        CheckpointLoader.load_checkpoint(str(path))


def test_missing_checkpoint_names_the_path(tmp_path):
    path = str(tmp_path / 'nowhere' / 'iter_4.pth')
    with pytest.raises(FileNotFoundError, match=path):
        CheckpointLoader.load_checkpoint(path)


class FakeCfgNode(dict):
    """Like yacs' CfgNode: a dict subclass with attributes; its code must not run on load."""

    def __init__(self, items=(), marker=None):
        super().__init__(items)
        self.__dict__['immutable'] = False
        self.__dict__['marker'] = marker

    def __setstate__(self, state):
        write_marker(state['marker'])

    def describe(self):
        write_marker(self.marker)


class History(list):
    """A list subclass whose code must not run on load either."""

    def __setstate__(self, state):
        write_marker(state['marker'])


def foreign_checkpoint(marker):
    model = OrderedDict(weight=torch.arange(6.).reshape(2, 3), bias=torch.tensor([0.5, -1.]))
    history = History([1.5, 2.5])
    history.marker = str(marker)
    return {
        'model': model,
        'config': FakeCfgNode({'MODEL': FakeCfgNode({'TYPE': 'swinv2'}), 'LR': 4e-4},
                              marker=str(marker)),
        'args': argparse.Namespace(lr=4e-4, epochs=800),
        'hook': CallsOnLoad(write_marker, str(marker)),
        'method': FakeCfgNode.describe,  # pickled as getattr(FakeCfgNode, 'describe')
        'history': history,
        'max_accuracy': np.float64(0.25),
        'epoch': 799,
    }


def test_load_foreign_checkpoint_returns_tensors_and_inert_stand_ins(tmp_path):
    marker = tmp_path / 'marker'
    original = foreign_checkpoint(marker)
    path = tmp_path / 'simmim_release.pth'
    torch.save(original, path)
    # The classes' own unpickling code would write the marker (checked without unpickling).
    FakeCfgNode().__setstate__({'marker': str(tmp_path / 'control')})
    assert (tmp_path / 'control').exists()

    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint(str(path))
    loaded = load_foreign_checkpoint(path)

    assert not marker.exists()
    for key, tensor in original['model'].items():
        assert torch.equal(loaded['model'][key], tensor)
    assert loaded['epoch'] == 799 and loaded['max_accuracy'] == 0.25

    config = loaded['config']
    assert type(config) is OrderedDict
    assert config.__foreign_class__ == f'{__name__}.FakeCfgNode'
    assert config['LR'] == 4e-4 and dict(config['MODEL']) == {'TYPE': 'swinv2'}
    assert config.immutable is False

    args = loaded['args']
    assert isinstance(args, ForeignObject) and args.foreign_class == 'argparse.Namespace'
    assert args.state == {'lr': 4e-4, 'epochs': 800}

    hook = loaded['hook']
    assert isinstance(hook, ForeignObject) and hook.foreign_class == f'{__name__}.write_marker'
    assert hook.args == (str(marker), )

    method = loaded['method']
    assert issubclass(method, ForeignObject)
    assert method.foreign_class == f'{__name__}.FakeCfgNode.describe'

    history = loaded['history']
    assert isinstance(history, ForeignList) and list(history) == [1.5, 2.5]
    assert history.state == {'marker': str(marker)}


def test_load_foreign_checkpoint_refuses_os_globals(tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / 'exploit.pth'
    torch.save({'weight': torch.ones(1), 'run': exploits(marker)['os.system']}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'(posix|nt)\.system'):
        load_foreign_checkpoint(path)
    assert not marker.exists()


@pytest.fixture
def http_server(tmp_path, monkeypatch):
    """Serves tmp_path/served over http; torch's hub cache goes under tmp_path."""
    served = tmp_path / 'served'
    served.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_http_checkpoints_are_loaded_safely(http_server, tmp_path):
    served, url = http_server
    marker = tmp_path / 'marker'
    torch.save({'state_dict': {'weight': torch.full((2, ), 3.)}}, served / 'good.pth')
    torch.save({'weight': torch.ones(1), 'meta': exploits(marker)['module function']},
               served / 'exploit.pth')

    good = CheckpointLoader.load_checkpoint(f'{url}/good.pth')
    assert torch.equal(good['state_dict']['weight'], torch.full((2, ), 3.))
    with pytest.raises(UnsafeCheckpointError, match=f'{__name__}.write_marker') as error:
        CheckpointLoader.load_checkpoint(f'{url}/exploit.pth')
    assert f'{url}/exploit.pth' in str(error.value)
    assert not marker.exists()
