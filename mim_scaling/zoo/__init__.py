"""The released model zoo of the study: its table, read once, and names to look rows up by."""
from .table import (DATASETS, HUB_FOLDERS, HUB_REPO, HUB_REVISION, LENGTHS, MODELS, ZooEntry,
                    find, load_zoo, select)

__all__ = ['DATASETS', 'HUB_FOLDERS', 'HUB_REPO', 'HUB_REVISION', 'LENGTHS', 'MODELS',
           'ZooEntry', 'find', 'load_zoo', 'select']
