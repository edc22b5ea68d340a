from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .checkpoint_integrity import find_resumable_checkpoint  # noqa: F401
from .loops import ResumableIterBasedTrainLoop  # noqa: F401
from .runner import Runner  # noqa: F401
