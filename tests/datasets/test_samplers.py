"""ResumableInfiniteSampler: one stream of reshuffled passes, shared out among ranks, that
starts at any position without going through the positions before it."""
import itertools

from mim_scaling.datasets import ResumableInfiniteSampler, SeededIndex


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_passes_are_permutations_keyed_by_seed_and_pass():
    stream = take(ResumableInfiniteSampler(list(range(10)), seed=3), 30)
    passes = [stream[i:i + 10] for i in (0, 10, 20)]
    assert all(sorted(p) == list(range(10)) for p in passes)
    assert passes[0] != passes[1] != passes[2]
    assert all(isinstance(i, SeededIndex) for i in stream)
    assert [i.key for i in stream[8:12]] == [(3, 0), (3, 0), (3, 1), (3, 1)]
    assert take(ResumableInfiniteSampler(list(range(10)), seed=3), 30) == stream
    assert take(ResumableInfiniteSampler(list(range(10)), seed=4), 10) != passes[0]


def test_starting_at_a_position_continues_the_stream_from_there():
    sampler = ResumableInfiniteSampler(list(range(10)), seed=0)
    stream = take(sampler, 45)
    for start in (1, 10, 17, 38):
        sampler.set_start(start)
        resumed = take(sampler, 45 - start)
        assert resumed == stream[start:]
        assert [i.key for i in resumed] == [i.key for i in stream[start:]]


def test_ranks_share_out_one_stream():
    stream = take(ResumableInfiniteSampler(list(range(7)), seed=1), 42)
    ranks = []
    for rank in range(3):
        sampler = ResumableInfiniteSampler(list(range(7)), seed=1)
        sampler.rank, sampler.world_size = rank, 3
        sampler.set_start(6)  # two iterations of one sample per rank
        ranks.append(take(sampler, 12))
    assert [i for step in zip(*ranks) for i in step] == stream[6:42]


def test_without_shuffle_passes_are_in_order():
    assert take(ResumableInfiniteSampler(list(range(4)), shuffle=False, seed=0), 6) == [
        0, 1, 2, 3, 0, 1]
