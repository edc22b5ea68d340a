"""Checkpoints of long runs: written atomically, found intact, resumed at the exact sample
(on another number of processes too), and checked to fit the model they are loaded into."""
from .coverage import CheckpointMismatchError, check_checkpoint_fits
from .integrity import checkpoint_problem, find_resumable_checkpoint
from .resumable_loop import ResumableIterBasedTrainLoop

__all__ = ['CheckpointMismatchError', 'ResumableIterBasedTrainLoop', 'check_checkpoint_fits',
           'checkpoint_problem', 'find_resumable_checkpoint']
