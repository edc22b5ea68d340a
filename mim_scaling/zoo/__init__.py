"""The released model zoo of the study: its table, read once, and names to look rows up by."""
from .table import (DATA_NAMES, HUB_FOLDERS, HUB_REPO, HUB_REVISION, LENGTHS, MODEL_NAMES, ZooEntry,
                    find, load_zoo, select)

__all__ = ['DATA_NAMES', 'HUB_FOLDERS', 'HUB_REPO', 'HUB_REVISION', 'LENGTHS', 'MODEL_NAMES',
           'ZooEntry', 'find', 'load_zoo', 'select']
