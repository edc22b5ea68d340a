"""Where does over-fitting start? Two tests of a grid's validation losses, with a threshold
below which a rise of the loss is taken for noise:

- along the length: longer training of the same model on the same data lowers the
  validation loss unless the model over-fits its training images, so a loss higher than at
  a shorter length of the same (model, data set) cell marks the cell as over-fitted from
  that length on;
- across models, as the paper words it (supplementary section B): "the validation loss of
  the larger model is lower than the smaller model in the non-overfitting cases but higher
  than the smaller model in the over-fitting cases". Each model is compared with the next
  larger one on the same data set and length; the case is an over-fitting one when the
  larger model's cell over-fits at that length (by the first test).
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .observations import Observation, ordered

# Losses are tabled with a few decimals: differences are rounded to this many to drop the
# float error of the subtraction, so that a rise equal to the threshold is not counted.
_DECIMALS = 10


@dataclass(frozen=True)
class OverfittingCell:
    """The validation losses of one model on one data set, by increasing length."""
    model: str
    data: str
    lengths: Tuple[str, ...]
    losses: Tuple[float, ...]
    threshold: float = 0.0  # a rise up to this much is noise

    @property
    def changes(self) -> Tuple[float, ...]:
        """Loss change from each length to the next."""
        return tuple(b - a for a, b in zip(self.losses, self.losses[1:]))

    @property
    def rises(self) -> Tuple[float, ...]:
        """For each length, how much its loss exceeds the lowest loss at a shorter length
        (0 for the first length, negative where it is lower)."""
        return (0.0, ) + tuple(round(loss - min(self.losses[:k]), _DECIMALS)
                               for k, loss in enumerate(self.losses) if k)

    def overfits_at(self, length: str) -> bool:
        """Whether the loss at ``length`` or a shorter length is higher, by more than the
        threshold, than at a length before it."""
        k = self.lengths.index(length)
        return any(rise > self.threshold for rise in self.rises[:k + 1])

    @property
    def onset(self) -> Optional[str]:
        """The first length at which the cell over-fits; None if it never does."""
        return next((length for length in self.lengths if self.overfits_at(length)), None)

    @property
    def never_rises(self) -> bool:
        """The loss falls (or stays) at every step, whatever the threshold: the cells whose
        rows a law of runs that do not over-fit is fitted to."""
        return all(change <= 0 for change in self.changes)


@dataclass(frozen=True)
class ModelComparison:
    """A model and the next larger one on the same data set and length."""
    data: str
    length: str
    smaller: str
    larger: str
    change: float  # larger model's loss - smaller model's loss
    overfitting_case: bool  # the larger model's cell over-fits at this length
    threshold: float

    @property
    def verdict(self) -> str:
        """'higher', 'lower' or 'within noise': the larger model's loss against the
        smaller's."""
        if self.change > self.threshold:
            return 'higher'
        return 'lower' if self.change < -self.threshold else 'within noise'

    @property
    def as_the_paper_says(self) -> bool:
        """Higher in an over-fitting case, lower otherwise."""
        return self.verdict == ('higher' if self.overfitting_case else 'lower')


def overfitting_cells(observations: Sequence[Observation],
                      threshold: float = 0.0) -> List[OverfittingCell]:
    """A cell per model and data set with validation losses at two or more lengths, in the
    table's order of models and data sets."""
    if threshold < 0:
        raise ValueError(f'the threshold of a rise must be >= 0, got {threshold}')
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
                                             tuple(r[2] for r in runs), threshold))
    return cells


def model_comparisons(observations: Sequence[Observation],
                      cells: Sequence[OverfittingCell]) -> List[ModelComparison]:
    """Each model against the next larger model with a row of the same data set and length
    (by data set, then length, then size), the cells telling the over-fitting cases."""
    by_cell = {(c.model, c.data): c for c in cells}
    rows = [o for o in observations if o.val_loss is not None]
    threshold = cells[0].threshold if cells else 0.0
    comparisons = []
    for data in ordered(o.data for o in rows):
        for length in ordered(o.length for o in rows if o.data == data):
            runs = sorted((o for o in rows if o.data == data and o.length == length),
                          key=lambda o: o.params)
            for small, large in zip(runs, runs[1:]):
                cell = by_cell.get((large.model, data))
                comparisons.append(ModelComparison(
                    data, length, small.model, large.model,
                    round(large.val_loss - small.val_loss, _DECIMALS),
                    cell is not None and cell.overfits_at(length), threshold))
    return comparisons
