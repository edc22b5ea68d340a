"""Where over-fitting starts: a cell planted in a grid whose losses otherwise fall with length
is found, at its length, and drawn red in the heat map."""
import pytest

from mim_scaling.study.observations import Observation
from mim_scaling.study.overfitting import overfitting_cells
from mim_scaling.visualization.scaling_figures import overfitting_heatmap

LENGTHS = {'125k': 125e3, '250k': 250e3, '500k': 500e3}


def grid(planted):
    """Models x data sets x lengths, loss falling with length, except the ``planted``
    (model, data, length): loss."""
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


def test_the_tolerance_ignores_small_rises():
    rows = grid({('B', '100%', '250k'): 0.485 + 0.0005})  # +0.0005 over its 125k loss
    assert [c.onset for c in overfitting_cells(rows) if c.onset] == ['250k']
    assert not [c for c in overfitting_cells(rows, tolerance=0.001) if c.onset]


def test_cells_need_two_lengths_and_one_row_per_length():
    rows = grid({})
    assert len(overfitting_cells(rows[:1] + [o for o in rows if o.model != 'S'])) == 4
    with pytest.raises(ValueError, match='S / 10%: several rows of the same length'):
        overfitting_cells(rows + rows[:1])


def test_the_heat_map_draws_the_planted_cell_red_and_falling_cells_blue():
    fig = overfitting_heatmap(overfitting_cells(grid({('L', '10%', '500k'): 0.60})))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ['125k -> 250k', '250k -> 500k']
    image = panels[1].get_images()[0]
    colours = image.to_rgba(image.get_array())
    red, blue = colours[2, 0], colours[0, 0]  # row L, column 10%; row S, column 10%
    assert red[0] > red[2] + 0.2 and blue[2] > blue[0]
    assert '+0.1240' in [t.get_text() for t in panels[1].texts]
