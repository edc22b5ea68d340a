"""tools/analysis/scaling_report.py: the report on the released table (few bootstrap
resamples), on a sweep's results.csv of one's own with a from-scratch row and the gain over
the zero prediction, and its refusals of bad input."""
import numpy as np
from PIL import Image
from scipy.stats import rankdata

from mim_scaling.study import StudyResult, released_results, write_results
from tool_scripts import call_tool

FIGURES = ('loss_vs_top1.png', 'overfitting_heatmap.png', 'law_val_loss.png', 'law_top1.png')


def test_the_report_on_the_released_table(tmp_path):
    assert call_tool('analysis/scaling_report.py', '--zoo', '--out-dir', tmp_path / 'figures',
                     '--report', tmp_path / 'report.md', '--bootstrap', 20,
                     '--images-per-second', 1000, '--gpu-hours', 2000) is None
    report = (tmp_path / 'report.md').read_text()
    for name in FIGURES:
        assert f'](figures/{name})' in report
        assert Image.open(tmp_path / 'figures' / name).size[0] > 500
    assert ('Pre-trained rows: 63; with a validation loss: 63; with a fine-tuned top-1: 63. '
            'Batch 2048.') in report
    assert 'the released rows have none' in report and '| gain |' not in report
    # Spearman's rho as the Pearson correlation of mid-ranks
    rows = released_results()
    rho = np.corrcoef(rankdata([r.val_loss for r in rows]), rankdata([r.top1 for r in rows]))[0, 1]
    assert f'| all rows | 63 | {rho:.3f} |' in report
    assert '20 resamples of whole (model, data set) cells' in report
    # the zoo's SwinV2-S on 20%: 0.4751, 0.4722, 0.4734, a rise of +0.0012 at 500k, and
    # SwinV2-L on 10%: 0.4995, 0.5140, 0.5150
    assert '| SwinV2-Small | ImageNet-1K 20% | 0.4751 | 0.4722 | 0.4734 | - | 500k +0.0012 |' \
        in report
    assert '| SwinV2-Large | ImageNet-1K 10% | 0.4995 | 0.5140 | 0.5150 | 250k | - |' in report
    assert '36 of them in cells that never over-fit' in report
    assert report.count('| over-fitting, two-stage (used) | 8 |') == 2
    assert report.count('| data-constrained, one stage | row |') == 2
    assert 'withheld: the law misfits these rows by' in report
    # 125k iterations x 2048 images at 1000 images/s
    assert 'Cost 1 = 49M parameters x 125k iterations = 71.1 GPU-hours' in report
    assert '**Budget: 2000 GPU-hours (cost 28.1)**' in report
    assert '### The two laws side by side' in report


def test_the_report_on_a_miniature_with_a_from_scratch_row(tmp_path):
    results = [StudyResult(model, data, '200it', params, val_loss=loss, top1=top1,
                           zero_prediction_loss=0.75, gain=1 - loss / 0.75)
               for model, params, data, loss, top1 in (
                   ('w16', '0.31M', 'lfw-50pct', 0.71, 80.0),
                   ('w16', '0.31M', 'lfw', 0.69, 82.5),
                   ('w32', '1.2M', 'lfw-50pct', 0.70, 81.25),
                   ('w32', '1.2M', 'lfw', 0.66, 85.0))]
    results.append(StudyResult('w32', 'from-scratch', '0', '1.2M', top1=77.5))
    write_results(results, tmp_path / 'results.csv')
    assert call_tool('analysis/scaling_report.py', tmp_path / 'results.csv', '--bootstrap', 10,
                     '--data-sizes', 'lfw=160', '--batch-size', 16) is None
    report = (tmp_path / 'scaling_report.md').read_text()
    assert 'Unique training images: lfw-50pct 80, lfw 160.' in report
    assert '- w32 / from-scratch / 0 (top-1 77.50): no pre-training' in report
    assert '| all rows | 4 | -1.000 |' in report
    # gain = 1 - 0.66 / 0.75
    assert '| w32 | lfw | 200it | 0.6600 | 0.7500 | 12.00% |' in report
    assert 'No model and data set has validation losses at two lengths.' in report
    assert report.count('No law fitted: the rows with a') == 2
    assert (tmp_path / 'loss_vs_top1.png').is_file()
    assert not (tmp_path / 'overfitting_heatmap.png').exists()


def test_bad_input_is_named(tmp_path, capsys):
    assert 'no results table at' in call_tool('analysis/scaling_report.py',
                                              tmp_path / 'missing.csv')
    assert call_tool('analysis/scaling_report.py', '--zoo', '--gpu-hours', 10) == '2'
    assert call_tool('analysis/scaling_report.py', '--zoo', '--data-sizes', 'lfw') == '2'
    assert call_tool('analysis/scaling_report.py', '--zoo', '--misfit-factor', 0) == '2'
    errors = capsys.readouterr().err
    assert '--gpu-hours needs --images-per-second' in errors
    assert "'lfw': expected NAME=IMAGES with a positive number of images" in errors
    assert '--misfit-factor > 0' in errors
