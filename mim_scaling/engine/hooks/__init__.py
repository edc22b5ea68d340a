from .atomic_checkpoint_hook import AtomicCheckpointHook
from .consolidate_optimizer_hook import ConsolidateOptimizerStateHook
from .eager_optimizer_hook import EagerOptimizerUpdateHook
from .loss_curve_hook import LossCurveHook
from .preemption_checkpoint_hook import (PREEMPTED_EXIT_STATUS, Preempted,
                                         PreemptionCheckpointHook)
from .pretrained_windows_hook import PretrainedWindowsHook
from .reconstruction_hook import ReconstructionVisualizationHook
from .unreadable_images_hook import UnreadableImagesHook

__all__ = ['AtomicCheckpointHook', 'ConsolidateOptimizerStateHook', 'EagerOptimizerUpdateHook',
           'LossCurveHook', 'PREEMPTED_EXIT_STATUS', 'Preempted', 'PreemptionCheckpointHook',
           'PretrainedWindowsHook', 'ReconstructionVisualizationHook', 'UnreadableImagesHook']
