from .loss_curve_hook import LossCurveHook
from .reconstruction_hook import ReconstructionVisualizationHook

__all__ = ['LossCurveHook', 'ReconstructionVisualizationHook']
