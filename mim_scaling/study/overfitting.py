"""Where does over-fitting start? For every model and data set, whether the validation loss
rises as the pre-training gets longer (125k -> 250k -> 500k iterations in the study).

Longer training of the same model on the same data lowers the validation loss unless the
model over-fits its training images, so a rise from one length to the next marks an
over-fitted cell: the paper's observation that larger models over-fit small data sets with
longer training, located cell by cell.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from mim_scaling.visualization.study_figures import ordered

from .observations import Observation


@dataclass(frozen=True)
class OverfittingCell:
    """The validation losses of one model on one data set, by increasing length."""
    model: str
    data: str
    lengths: Tuple[str, ...]
    losses: Tuple[float, ...]
    tolerance: float = 0.0

    @property
    def changes(self) -> Tuple[float, ...]:
        """Loss change from each length to the next."""
        return tuple(b - a for a, b in zip(self.losses, self.losses[1:]))

    @property
    def onset(self) -> Optional[str]:
        """The first length whose loss is higher (by more than ``tolerance``) than at the
        length before it; None if the loss never rises."""
        for length, change in zip(self.lengths[1:], self.changes):
            if change > self.tolerance:
                return length
        return None


def overfitting_cells(observations: Sequence[Observation],
                      tolerance: float = 0.0) -> List[OverfittingCell]:
    """A cell per model and data set with validation losses at two or more lengths, in the
    table's order of models and data sets."""
    rows = [o for o in observations if o.val_loss is not None]
    cells = []
    for model in ordered(o.model for o in rows):
        for data in ordered(o.data for o in rows):
            runs = sorted((o.iters, o.length, o.val_loss) for o in rows
                          if o.model == model and o.data == data)
            if len({iters for iters, _, _ in runs}) != len(runs):
                raise ValueError(f'{model} / {data}: several rows of the same length')
            if len(runs) >= 2:
                cells.append(OverfittingCell(model, data, tuple(r[1] for r in runs),
                                             tuple(r[2] for r in runs), tolerance))
    return cells
