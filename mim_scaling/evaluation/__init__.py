from .reconstruction_loss import ReconstructionLoss

__all__ = ['ReconstructionLoss']
