"""Rows repeated over seeds, as one row each: the mean, the standard deviation and n."""
import math
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple


@dataclass(frozen=True)
class SeedSummary:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for n = 1) of one
    field over the ``n`` seeds of a row."""
    mean: float
    std: float
    n: int

    def format(self, digits: int) -> str:
        """``0.6123`` for one seed, ``0.6123 ± 0.0012 (n=3)`` for several."""
        if self.n == 1:
            return f'{self.mean:.{digits}f}'
        return f'{self.mean:.{digits}f} ± {self.std:.{digits}f} (n={self.n})'


def summarise(values: Sequence[float]) -> SeedSummary:
    """The :class:`SeedSummary` of the values of one row's seeds."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('no values to summarise')
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean)**2 for v in values) / (n - 1)) if n > 1 else 0.0
    return SeedSummary(mean, std, n)


def summarise_by_row(results: Sequence, value: str) -> Dict[Tuple[str, str, str], SeedSummary]:
    """``{(model, data, length): summary}`` of the field ``value`` over each row's seeds, in
    the order of first appearance; results without the value are left out."""
    groups: Dict[Tuple[str, str, str], list] = {}
    for r in results:
        if getattr(r, value) is not None:
            groups.setdefault((r.model, r.data, r.length), []).append(getattr(r, value))
    return {key: summarise(values) for key, values in groups.items()}
