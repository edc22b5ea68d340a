"""A results table as numbers: each row's model size, unique training images, samples seen,
validation loss and top-1, the quantities the scaling analyses work on.

The rows are results of ``mim_scaling.study`` (``released_results()`` or
``read_results(csv)``). Parameter counts come from the ``backbone_params`` column and
iterations from the ``length`` column (``'125k'``, ``'60it'``); a (model, data set) pair is
a *cell*, whose rows (its lengths) the analyses resample together. The number of unique
training images of a data set is not in the table: the study's data sets have their sizes
below, a grid of one's own passes them (``data_sizes``); a data set named ``<name>-<p>pct``
(the subset tool's names) is ``p`` % of ``<name>``.
"""
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# Training images of the study's data sets. ImageNet-1K train has 1,281,167 images and the
# full ImageNet-22K (fall 2011) 14,197,122; the subsets keep round(fraction x n) images of
# every class, within a few hundred images of fraction x 1,281,167.
IMAGENET_1K_TRAIN = 1_281_167
STUDY_DATA_SIZES = {
    'ImageNet-1K 10%': 0.1 * IMAGENET_1K_TRAIN,
    'ImageNet-1K 20%': 0.2 * IMAGENET_1K_TRAIN,
    'ImageNet-1K 50%': 0.5 * IMAGENET_1K_TRAIN,
    'ImageNet-1K': IMAGENET_1K_TRAIN,
    'ImageNet-22K': 14_197_122,
}
STUDY_BATCH_SIZE = 2048  # Table 1

_SCALES = {'': 1, 'k': 1e3, 'K': 1e3, 'M': 1e6, 'B': 1e9, 'G': 1e9}


def parse_count(text: str) -> float:
    """``'49M'`` -> 49e6, ``'1.06B'`` -> 1.06e9, ``'125k'`` -> 125e3, ``'60it'`` -> 60."""
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([kKMBG]?)(?:it|iters)?\s*', str(text))
    if match is None:
        raise ValueError(f'cannot read a count from {text!r} (e.g. 49M, 1.06B, 125k, 60it)')
    return float(match.group(1)) * _SCALES[match.group(2)]


def ordered(values: Iterable) -> list:
    """Distinct values in order of first appearance (the zoo's order for its rows)."""
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Observation:
    """One row of a results table with the numbers a scaling law needs."""
    model: str
    data: str
    length: str
    params: float  # backbone parameters N
    iters: float  # pre-training iterations
    val_loss: Optional[float]
    top1: Optional[float]
    images: Optional[float] = None  # unique training images U (None: size unknown)
    batch_size: int = STUDY_BATCH_SIZE
    zero_prediction_loss: Optional[float] = None  # validation loss of predicting zero
    gain: Optional[float] = None  # 1 - val_loss / zero_prediction_loss

    @property
    def cell(self) -> Tuple[str, str]:
        """The (model, data set) pair: the rows of one cell differ only in length."""
        return self.model, self.data

    @property
    def samples(self) -> float:
        """Samples seen in pre-training, S = iterations x total batch."""
        return self.iters * self.batch_size


def data_size(name: str, sizes: Mapping[str, float]) -> Optional[float]:
    """Unique training images of data set ``name``: from ``sizes``, or ``p`` % of ``<base>``
    for a name ``<base>-<p>pct``; None if neither is known."""
    if name in sizes:
        return float(sizes[name])
    match = re.fullmatch(r'(.+)-(\d+(?:\.\d+)?)pct', name)
    if match and match.group(1) in sizes:
        return float(match.group(2)) / 100 * float(sizes[match.group(1)])
    return None


def to_observations(results: Sequence, data_sizes: Optional[Mapping[str, float]] = None,
                    batch_size: int = STUDY_BATCH_SIZE
                    ) -> Tuple[List[Observation], List[str]]:
    """The rows of ``results`` as observations, and a line for each row left out (no
    parameter count or no readable length, e.g. a fine-tuning from scratch)."""
    sizes: Dict[str, float] = dict(STUDY_DATA_SIZES)
    sizes.update(data_sizes or {})
    observations, left_out = [], []
    for r in results:
        name = f'{r.model} / {r.data} / {r.length or "-"}'
        try:
            params = parse_count(r.backbone_params)
            iters = parse_count(r.length)
        except ValueError:
            left_out.append(f'{name} (top-1 {_text(r.top1, 2)}): no parameter count or '
                            'iterations')
            continue
        if iters <= 0:
            left_out.append(f'{name} (top-1 {_text(r.top1, 2)}): no pre-training')
            continue
        # tables written before the zero-prediction baseline was logged have no such columns
        observations.append(Observation(r.model, r.data, r.length, params, iters, r.val_loss,
                                        r.top1, data_size(r.data, sizes), batch_size,
                                        getattr(r, 'zero_prediction_loss', None),
                                        getattr(r, 'gain', None)))
    return observations, left_out


def _text(value: Optional[float], digits: int) -> str:
    return '-' if value is None else f'{value:.{digits}f}'
