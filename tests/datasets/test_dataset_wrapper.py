"""The package's dataset wrappers forward attributes to the wrapped set, never dunder names.

torch's DataLoader fetches a batch through ``dataset.__getitems__`` when the dataset has one;
a wrapper that forwarded it would hand the batch to the wrapped set and bypass its own
``__getitem__`` (the skipping of unreadable images, the per-sample seeding).
"""
import pytest
from torch.utils.data import DataLoader

from mim_scaling.datasets import SampleSeededDataset, SkipUnreadableImages


class BatchFetchingDataset:
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return index

    def __getitems__(self, indices):
        raise AssertionError('the wrapped dataset fetched the batch, bypassing the wrapper')


@pytest.mark.parametrize('wrapper', [SkipUnreadableImages, SampleSeededDataset])
def test_batches_go_through_the_wrapper_and_attributes_reach_the_dataset(wrapper):
    dataset = wrapper(BatchFetchingDataset())
    assert dataset.metainfo == dict(classes=('a', 'b'))
    assert not hasattr(dataset, '__getitems__')
    batches = [batch.tolist() for batch in DataLoader(dataset, batch_size=2, shuffle=False)]
    assert batches == [[0, 1], [2, 3]]
