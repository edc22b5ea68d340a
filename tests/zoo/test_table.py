"""The packaged zoo table is the authors' released grid: 63 rows, B/L on all five data sets,
S without ImageNet-22K, H without the 10% subset, g without the 10% and 20% subsets, three
lengths each."""
from collections import Counter
from pathlib import Path

import pytest

from mim_scaling.zoo import find, load_zoo, select

REFERENCE = Path(__file__).parents[3] / 'shared/reference/simmim_swinv2_model_zoo.tsv'


def test_grid_shape():
    zoo = load_zoo()
    assert len(zoo) == 63
    per_model = Counter(e.model for e in zoo)
    assert per_model == {'s': 12, 'b': 15, 'l': 15, 'h': 12, 'g': 9}
    assert not select(models=['s'], data=['in22k'])
    assert not select(models=['h'], data=['in1k-10pct'])
    assert not select(models=['g'], data=['in1k-10pct', 'in1k-20pct'])
    assert {e.length for e in zoo} == {'125k', '250k', '500k'}


@pytest.mark.skipif(not REFERENCE.exists(), reason='shared/ reference not beside the checkout')
def test_packaged_copy_equals_reference():
    packaged = Path(__file__).parents[2] / 'mim_scaling/zoo/simmim_swinv2_model_zoo.tsv'
    assert packaged.read_text() == REFERENCE.read_text()


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
