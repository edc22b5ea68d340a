"""The study's grid as the authors released it: 63 pre-trained encoders (with decoders) and
their 63 ImageNet-1K fine-tuned classifiers, one row each in ``simmim_swinv2_model_zoo.tsv``.

Every tool that walks the grid (configs, sweeps, figures, fetching) reads the rows through
:func:`load_zoo`, so names are spelled in one place:

- model: ``s``, ``b``, ``l``, ``h``, ``g`` (the config names' short form);
- data set: ``in1k-10pct``, ``in1k-20pct``, ``in1k-50pct``, ``in1k``, ``in22k``;
- length: ``125k``, ``250k``, ``500k``.
"""
import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional

TABLE = Path(__file__).with_name('simmim_swinv2_model_zoo.tsv')

# Names of the grid's models and pre-training data: short name -> (name in the table, name in
# checkpoint files).
MODEL_NAMES = {'s': ('SwinV2-Small', 'small'), 'b': ('SwinV2-Base', 'base'),
               'l': ('SwinV2-Large', 'large'), 'h': ('SwinV2-Huge', 'huge'),
               'g': ('SwinV2-giant', 'giant')}
DATA_NAMES = {'in1k-10pct': ('ImageNet-1K 10%', '1kper10'),
              'in1k-20pct': ('ImageNet-1K 20%', '1kper20'),
              'in1k-50pct': ('ImageNet-1K 50%', '1kper50'),
              'in1k': ('ImageNet-1K', '1k'),
              'in22k': ('ImageNet-22K', '22k')}
LENGTHS = ('125k', '250k', '500k')

# Where the authors host the released files since July 2024 (microsoft/Swin-Transformer,
# MODELHUB.md): a Hugging Face model repository, pre-trained and fine-tuned in two folders.
HUB_REPO = 'zdaxie/SimMIM'
HUB_REVISION = 'main'
HUB_FOLDERS = {'pretrained': 'simmim_swinv2_pretrain_models',
               'finetuned': 'simmim_swinv2_finetune_models'}


@dataclass(frozen=True)
class ZooEntry:
    """One row of the released grid: a pre-training run and its ImageNet-1K fine-tuning."""
    model: str  # s, b, l, h or g
    data: str  # in1k-10pct, ..., in22k
    length: str  # 125k, 250k or 500k
    backbone_params: str  # as the table writes it, e.g. '87M'
    val_loss: float  # SimMIM loss of the pre-trained model on ImageNet-1K val
    top1: float  # ImageNet-1K top-1 after fine-tuning
    pretrained_checkpoint: str  # released file names
    finetuned_checkpoint: str

    @property
    def name(self) -> str:
        """The zoo name of the pre-trained model, e.g. ``swinv2_base_1kper10_125k``."""
        return Path(self.pretrained_checkpoint).stem

    @property
    def finetuned_name(self) -> str:
        return Path(self.finetuned_checkpoint).stem

    def hub_path(self, finetuned: bool = False) -> str:
        """Path of the released file in :data:`HUB_REPO`."""
        if finetuned:
            return f'{HUB_FOLDERS["finetuned"]}/{self.finetuned_checkpoint}'
        return f'{HUB_FOLDERS["pretrained"]}/{self.pretrained_checkpoint}'

    def url(self, finetuned: bool = False) -> str:
        """Download address of the released file, as the authors publish it."""
        return (f'https://huggingface.co/{HUB_REPO}/resolve/{HUB_REVISION}/'
                f'{self.hub_path(finetuned)}')

    @property
    def iters(self) -> int:
        return int(self.length[:-1]) * 1000

    @property
    def pretrain_config(self) -> str:
        """The pre-training config of this row, relative to the repository root."""
        return f'configs/pretrain/simmim_swinv2-{self.model}_{self.length}_{self.data}.py'

    @property
    def finetune_config(self) -> str:
        """The ImageNet-1K fine-tuning config (Table 2) of this row's model."""
        return f'configs/imagenet/swinv2-{self.model}_ft_in1k.py'


def _short(names: dict, long_name: str, what: str) -> str:
    for short, (table_name, _) in names.items():
        if table_name == long_name:
            return short
    raise ValueError(f'{TABLE.name}: unknown {what} {long_name!r}')


@lru_cache(maxsize=None)
def _read(path: Path) -> tuple:
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    return tuple(
        ZooEntry(model=_short(MODEL_NAMES, row['model'], 'model'),
                 data=_short(DATA_NAMES, row['pretrain_data'], 'data set'),
                 length=row['pretrain_iters'],
                 backbone_params=row['backbone_params'],
                 val_loss=float(row['imagenet1k_val_loss']),
                 top1=float(row['finetuned_top1']),
                 pretrained_checkpoint=row['pretrained_checkpoint'],
                 finetuned_checkpoint=row['finetuned_checkpoint']) for row in rows)


def load_zoo(path: Optional[str] = None) -> List[ZooEntry]:
    """All rows of the released table (or of another file in its format), in its order."""
    return list(_read(Path(path) if path else TABLE))


def select(models: Optional[Iterable[str]] = None, data: Optional[Iterable[str]] = None,
           lengths: Optional[Iterable[str]] = None) -> List[ZooEntry]:
    """The rows matching every given filter; ``None`` keeps all. Unknown names are errors."""
    wanted = dict(model=models, data=data, length=lengths)
    known = dict(model=MODEL_NAMES, data=DATA_NAMES, length=LENGTHS)
    for field, values in wanted.items():
        unknown = sorted(set(values or ()) - set(known[field]))
        if unknown:
            raise ValueError(f'unknown {field} {unknown}; choose from {sorted(known[field])}')
    return [e for e in load_zoo()
            if all(values is None or getattr(e, field) in values
                   for field, values in wanted.items())]


def find(name: str) -> ZooEntry:
    """The row of a zoo name, pre-trained (``swinv2_base_1kper10_125k``) or fine-tuned
    (``finetune_swinv2_base_1kper10_125k``); a ``.pth`` suffix is allowed."""
    stem = Path(name).stem if name.endswith('.pth') else name
    for entry in load_zoo():
        if stem in (entry.name, entry.finetuned_name):
            return entry
    raise KeyError(f'{name!r} is not in the released model zoo ({TABLE.name}); names look '
                   f'like swinv2_base_1kper10_125k or finetune_swinv2_base_1kper10_125k')
