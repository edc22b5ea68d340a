"""The values a run logged, read back from mmengine's scalar logs.

mmengine's ``LocalVisBackend`` appends one JSON line per logging step to
``<work_dir>/<timestamp>/vis_data/scalars.json``; a resumed run starts a new timestamp folder.
Reading every folder of a work dir, later runs overriding earlier ones step by step, gives the
whole curve of a run that was interrupted and resumed.
"""
import json
from pathlib import Path
from typing import Dict, Iterable, Union

__all__ = ['TRAIN_KEY', 'Curve', 'read_scalars']

TRAIN_KEY = 'loss'  # the training loss, as mmengine logs it

Curve = Dict[int, float]


def read_scalars(work_dir: Union[str, Path], keys: Iterable[str]) -> Dict[str, Curve]:
    """The logged values of each of ``keys`` by step, from all scalar logs under ``work_dir``.

    Steps are what the logger wrote: iterations for iteration-based training, epochs for the
    validation metrics of epoch-based training.
    """
    curves = {key: {} for key in keys}
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    for path in files:  # timestamp folders sort chronologically
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash; the rest is still good
            step = record.get('step', record.get('iter'))
            if step is None:
                continue
            for key, curve in curves.items():
                if key in record:
                    curve[int(step)] = float(record[key])
    return curves
