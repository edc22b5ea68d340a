from .loss_curves import plot_loss_curves, read_loss_curves, read_scalars
from .reconstruction import display_batch, reconstruction_panels, save_reconstruction_figure
from .study_figures import (figure_1, figure_2, figure_3, relative_training_cost, save_figure,
                            study_table)

__all__ = ['plot_loss_curves', 'read_loss_curves', 'read_scalars', 'display_batch',
           'reconstruction_panels', 'save_reconstruction_figure', 'figure_1', 'figure_2',
           'figure_3', 'relative_training_cost', 'save_figure', 'study_table']
