from .loss_curves import plot_loss_curves, read_loss_curves
from .reconstruction import reconstruction_panels, save_reconstruction_figure

__all__ = ['plot_loss_curves', 'read_loss_curves', 'reconstruction_panels',
           'save_reconstruction_figure']
