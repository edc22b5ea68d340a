"""Where over-fitting starts: a cell planted in a grid whose losses otherwise fall with length
is found at its length; a rise counts only above the threshold; a larger model's loss is
compared with the smaller one's as the paper words it; the heat map frames the onsets and
its legend says so."""
import pytest

from mim_scaling.study.observations import Observation
from mim_scaling.study.overfitting import model_comparisons, overfitting_cells
from mim_scaling.visualization.scaling_figures import overfitting_heatmap

LENGTHS = {'125k': 125e3, '250k': 250e3, '500k': 500e3}


def grid(planted):
    """Models x data sets x lengths, loss falling with length and model size, except the
    ``planted`` (model, data, length): loss."""
    rows = []
    for m, model in enumerate(('S', 'B', 'L')):
        for d, data in enumerate(('10%', '100%')):
            for k, (length, iters) in enumerate(LENGTHS.items()):
                loss = planted.get((model, data, length), 0.50 - 0.01 * m - 0.005 * d - 0.004 * k)
                rows.append(Observation(model, data, length, 1e8 * (m + 1), iters, loss, None))
    return rows


def test_a_planted_rise_is_found_at_its_length_and_only_there():
    rows = grid({('L', '10%', '500k'): 0.60})
    cells = overfitting_cells(rows[::-1])  # any row order
    assert [(c.model, c.data) for c in cells] == [(m, d) for m in 'LBS' for d in ('100%', '10%')]
    found = [(c.model, c.data, c.onset) for c in cells if c.onset]
    assert found == [('L', '10%', '500k')]
    cell = next(c for c in cells if c.onset)
    assert cell.lengths == ('125k', '250k', '500k')
    assert cell.changes == pytest.approx((-0.004, 0.60 - 0.476))
    assert [c.never_rises for c in cells].count(False) == 1


@pytest.mark.parametrize('rise, overfits', [(0.0019, False), (0.0020, False), (0.0021, True)])
def test_a_rise_counts_only_above_the_threshold(rise, overfits):
    # B on 100% at 250k: its 125k loss is 0.485; 500k stays below 125k's. A rise of exactly
    # the threshold is noise.
    rows = grid({('B', '100%', '250k'): 0.485 + rise, ('B', '100%', '500k'): 0.480})
    cells = {(c.model, c.data): c for c in overfitting_cells(rows, threshold=0.002)}
    cell = cells['B', '100%']
    assert cell.rises == pytest.approx((0, rise, -0.005))
    assert cell.onset == ('250k' if overfits else None)
    assert cell.overfits_at('500k') == overfits  # once over-fitted, it stays so
    assert not cell.never_rises  # whatever the threshold, it is not a cell of clean rows
    assert [c for c in cells.values() if c.onset] == ([cell] if overfits else [])


def test_a_slow_rise_over_two_steps_counts_against_the_lowest_shorter_loss():
    # +0.0015 then +0.0015: each step is within a threshold of 0.002, the sum is not
    rows = grid({('S', '10%', '250k'): 0.5015, ('S', '10%', '500k'): 0.5030})
    cell = overfitting_cells(rows, threshold=0.002)[0]
    assert cell.rises == pytest.approx((0, 0.0015, 0.0030))
    assert cell.onset == '500k'


def test_larger_models_against_smaller_ones_as_the_paper_words_it():
    # On 10% at 500k, L over-fits (its loss rises by 0.1) and is higher than B: an
    # over-fitting case as the paper says. On 100% at 125k, B is 0.001 above S: within a
    # threshold of 0.002 of it. Elsewhere larger models are lower by 0.01: as the paper says.
    rows = grid({('L', '10%', '500k'): 0.60, ('B', '100%', '125k'): 0.496})
    comparisons = model_comparisons(rows, overfitting_cells(rows, threshold=0.002))
    assert len(comparisons) == 2 * 3 * 2  # data sets x lengths x (S-B, B-L)
    by_pair = {(c.data, c.length, c.smaller, c.larger): c for c in comparisons}
    over = by_pair['10%', '500k', 'B', 'L']
    assert over.overfitting_case and over.verdict == 'higher' and over.as_the_paper_says
    assert over.change == pytest.approx(0.60 - 0.482)
    noisy = by_pair['100%', '125k', 'S', 'B']
    assert noisy.verdict == 'within noise' and not noisy.as_the_paper_says
    assert by_pair['100%', '125k', 'B', 'L'].change == pytest.approx(0.475 - 0.496)
    rest = [c for c in comparisons if c not in (over, noisy)]
    assert all(c.verdict == 'lower' and not c.overfitting_case for c in rest)
    with pytest.raises(ValueError, match='threshold of a rise must be >= 0'):
        overfitting_cells(rows, threshold=-0.001)


def test_cells_need_two_lengths_and_one_row_per_length():
    rows = grid({})
    assert len(overfitting_cells(rows[:1] + [o for o in rows if o.model != 'S'])) == 4
    with pytest.raises(ValueError, match='S / 10%: several rows of the same length'):
        overfitting_cells(rows + rows[:1])


def test_the_heat_map_frames_the_onset_and_its_legend_explains_the_marks():
    fig = overfitting_heatmap(overfitting_cells(grid({('L', '10%', '500k'): 0.60}), 0.002))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ['125k -> 250k', '250k -> 500k']
    image = panels[1].get_images()[0]
    colours = image.to_rgba(image.get_array())
    red, blue = colours[2, 0], colours[0, 0]  # row L, column 10%; row S, column 10%
    assert red[0] > red[2] + 0.2 and blue[2] > blue[0]
    assert '+0.1240' in [t.get_text() for t in panels[1].texts]
    # one frame, around (row L, column 10%) of the second panel, none in the first
    assert not panels[0].patches
    (frame, ) = panels[1].patches
    assert frame.get_xy() == (-0.5, 1.5)  # column 10% (the first), row L (the third)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ['over-fitting starts: the loss exceeds a shorter length\'s by more than '
                      '0.0020', 'no such run in the grid']
