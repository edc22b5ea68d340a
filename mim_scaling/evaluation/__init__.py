from .class_subset_accuracy import ClassSubsetAccuracy
from .reconstruction_loss import ReconstructionLoss

__all__ = ['ClassSubsetAccuracy', 'ReconstructionLoss']
