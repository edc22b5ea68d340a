"""The attribute forwarding that the package's dataset wrappers share."""
from typing import Union

from mim_scaling.registry import DATASETS


class DatasetWrapper:
    """Base of a dataset wrapper: ``dataset`` is built from its config if need be, and other
    attributes (``metainfo``, ``full_init``, ...) are those of the wrapped dataset.

    Dunder names are never forwarded: torch's fetcher calls a dataset's ``__getitems__``
    when it has one, and a forwarded one would load the batch from the wrapped dataset,
    bypassing the wrapper's ``__getitem__``.

    Args:
        dataset (dict | Dataset): The dataset, or its config.
    """

    def __init__(self, dataset: Union[dict, object]) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset

    def __getattr__(self, name):
        # 'dataset' itself is guarded for unpickling in spawned workers, where __getattr__
        # runs before __dict__ is filled.
        if name == 'dataset' or (name.startswith('__') and name.endswith('__')):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.dataset!r})'
