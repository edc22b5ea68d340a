from .inat2018 import INaturalist2018
from .transforms import *  # noqa: F401,F403

__all__ = ['INaturalist2018']
