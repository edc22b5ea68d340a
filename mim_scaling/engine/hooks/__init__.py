from .atomic_checkpoint_hook import AtomicCheckpointHook
from .consolidate_optimizer_hook import ConsolidateOptimizerStateHook
from .eager_optimizer_hook import EagerOptimizerUpdateHook
from .initial_checkpoint_hook import InitialCheckpointHook
from .knn_probe_hook import KNNProbeHook
from .loss_curve_hook import LossCurveHook
from .preemption_checkpoint_hook import (PREEMPTED_EXIT_STATUS, Preempted,
                                         PreemptionCheckpointHook)
from .pretrained_windows_hook import PretrainedWindowsHook
from .reconstruction_hook import ReconstructionVisualizationHook
from .runner_type_check_hook import RunnerTypeCheckHook
from .trivial_solution_hook import TrivialSolutionHook
from .unreadable_images_hook import UnreadableImagesHook

__all__ = ['AtomicCheckpointHook', 'ConsolidateOptimizerStateHook', 'EagerOptimizerUpdateHook',
           'InitialCheckpointHook', 'KNNProbeHook',
           'LossCurveHook', 'PREEMPTED_EXIT_STATUS', 'Preempted', 'PreemptionCheckpointHook',
           'PretrainedWindowsHook', 'ReconstructionVisualizationHook', 'RunnerTypeCheckHook',
           'TrivialSolutionHook',
           'UnreadableImagesHook']
