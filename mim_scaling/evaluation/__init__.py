from .class_subset_accuracy import ClassSubsetAccuracy
from .frozen_features import KNNProbe, KNNResult, knn_predict, wilson_interval
from .reconstruction_loss import ReconstructionLoss

__all__ = ['ClassSubsetAccuracy', 'KNNProbe', 'KNNResult', 'ReconstructionLoss', 'knn_predict',
           'wilson_interval']
