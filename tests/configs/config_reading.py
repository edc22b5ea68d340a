"""Reading the repository's configs in table tests."""
from pathlib import Path

from mmengine.config import Config

import mim_scaling  # noqa: F401  (registers what the configs name)
from mim_scaling.engine.config import check_config

REPO = Path(__file__).resolve().parents[2]


def load(config: str) -> Config:
    """The config, which must also pass the checks that tools/train.py makes at build time."""
    cfg = Config.fromfile(str(REPO / config))
    check_config(cfg)
    return cfg


def transform(pipeline, type_name):
    """The one step of ``type_name`` in a data pipeline."""
    found = [t for t in pipeline if t['type'] == type_name]
    assert len(found) == 1, f'expected one {type_name} in {[t["type"] for t in pipeline]}'
    return found[0]
