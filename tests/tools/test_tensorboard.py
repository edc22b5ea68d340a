"""TensorBoard logging is opt-in: ``tensorboard=True`` (here through --cfg-options) writes an
event file with the training scalars next to the json logs; without it none is written."""
import importlib
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).parents[2]
TOOLS, TOY_DIR = str(ROOT / 'tools'), str(ROOT / 'tests/_toy')


@pytest.fixture
def train(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    monkeypatch.syspath_prepend(TOOLS)
    monkeypatch.setenv('LOCAL_RANK', '0')
    import toy_task
    config = toy_task.write_config(str(tmp_path))
    tool = importlib.import_module('train')

    def run(work_dir, *options):
        tool.main([config, '--work-dir', str(work_dir), '--cfg-options',
                   f'experiment_name={work_dir.name}', *options])
        return list(work_dir.glob('*/vis_data/events.out.tfevents.*'))
    return run


def test_tensorboard_switch_writes_the_training_scalars(train, tmp_path):
    events = train(tmp_path / 'tensorboard', 'tensorboard=True')
    assert len(events) == 1
    scalars = EventAccumulator(str(events[0])).Reload().Tags()['scalars']
    assert {'loss', 'lr'} <= set(scalars)
    assert list((tmp_path / 'tensorboard').glob('*/vis_data/scalars.json'))  # json logs stay

    assert train(tmp_path / 'plain') == []
