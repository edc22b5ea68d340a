"""The packaged zoo table is the authors' released grid: 63 rows, B/L on all five data sets,
S without ImageNet-22K, H without the 10% subset, g without the 10% and 20% subsets, three
lengths each."""
import hashlib
from collections import Counter

import pytest

from mim_scaling.zoo import find, load_zoo, select
from mim_scaling.zoo.table import TABLE

# SHA-256 of the released grid's table (the authors' model zoo in microsoft/Swin-Transformer,
# as tab-separated values), taken when it was checked against the published figures: any
# change to the packaged copy fails here. The figures below are written from the same zoo.
RELEASED_TABLE_SHA256 = 'b46c3ae8e6767deb419eb005e05a1b04cfcd25856190814e057923302244eec1'


def test_grid_shape():
    zoo = load_zoo()
    assert len(zoo) == 63
    per_model = Counter(e.model for e in zoo)
    assert per_model == {'s': 12, 'b': 15, 'l': 15, 'h': 12, 'g': 9}
    assert not select(models=['s'], data=['in22k'])
    assert not select(models=['h'], data=['in1k-10pct'])
    assert not select(models=['g'], data=['in1k-10pct', 'in1k-20pct'])
    assert {e.length for e in zoo} == {'125k', '250k', '500k'}


def test_packaged_copy_is_the_released_table():
    assert hashlib.sha256(TABLE.read_bytes()).hexdigest() == RELEASED_TABLE_SHA256


@pytest.mark.parametrize('name, val_loss, top1', [
    ('swinv2_small_1kper50_250k', 0.4681, 83.67),
    ('swinv2_large_1kper10_500k', 0.5150, 83.50),
    ('swinv2_huge_1k_500k', 0.4416, 86.34),
    ('swinv2_giant_22k_500k', 0.4416, 86.53),
])
def test_published_figures(name, val_loss, top1):
    entry = find(name)
    assert (entry.val_loss, entry.top1) == (val_loss, top1)


def test_names_round_trip():
    entry = find('swinv2_base_1kper10_125k')
    assert (entry.model, entry.data, entry.length) == ('b', 'in1k-10pct', '125k')
    assert entry.iters == 125_000
    assert (entry.val_loss, entry.top1) == (0.4822, 83.33)
    assert find('finetune_swinv2_base_1kper10_125k.pth') == entry
    assert entry.pretrain_config == 'configs/pretrain/simmim_swinv2-b_125k_in1k-10pct.py'
    assert entry.finetune_config == 'configs/imagenet/swinv2-b_ft_in1k.py'


def test_unknown_names_are_errors():
    with pytest.raises(KeyError, match='swinv2_base_2k_125k'):
        find('swinv2_base_2k_125k')
    with pytest.raises(ValueError, match='unknown data'):
        select(data=['in1k-5pct'])
