from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .checkpointing import *  # noqa: F401,F403
from .config import ConfigError, Runner, check_config  # noqa: F401
