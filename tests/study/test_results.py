"""Results of one's own grid: parameter counts for the zoo's column, the final validation
read from the logs, CSV round trip."""
import csv
import json
from pathlib import Path

from mim_scaling.study import (StudyResult, StudyRun, backbone_params, collect_results,
                               read_results, write_results)

ROOT = Path(__file__).parents[2]

W16 = 'configs/demo/simmim_swinv2-demo-w16_200it_lfw.py'


def test_backbone_params_counts_the_built_backbone(monkeypatch):
    """Counted by hand for SwinV2 with depths [2, 2, 2, 2] and heads [1, 1, 2, 4]: a block
    of width C and h heads has 12C^2 + 12C + 513h + 1536 parameters (qkv 3C^2, q/v biases,
    proj C^2 + C, MLP 8C^2 + 5C, two norms 4C, logit scale h, position-bias MLP
    2 * 512 + 512 + 512h); patch merging 8C^2 + 4C; patch embedding 48C + C + 2C; the mask
    token C and the final norm of the last width.
    Width 16: blocks 548,496 + merging 43,456 + embedding 816 + 16 + 256 = 593,040.
    Width 32: blocks 2,120,976 + merging 172,928 + embedding 1,632 + 32 + 512 = 2,296,080."""
    monkeypatch.chdir(__file__.rsplit('/tests/', 1)[0])
    assert backbone_params(W16) == '0.593M'
    assert backbone_params(W16, ('model.backbone.arch.embed_dims=32',)) == '2.3M'


ROWS = [StudyResult('w16', 'half', '60it', '0.31M', val_loss=0.61234, status='done',
                    pretrain_work_dir='/w/a', zero_prediction_loss=0.68, gain=0.09950),
        StudyResult('SwinV2-Base', 'ImageNet-1K', '125k', '87M', None, 84.1,
                    released_val_loss=0.468, released_top1=84.13, status='pre-trained')]


def test_results_survive_a_csv_round_trip(tmp_path):
    write_results(ROWS, tmp_path / 'r.csv', tmp_path / 'r.md')
    assert read_results(tmp_path / 'r.csv') == ROWS
    markdown = (tmp_path / 'r.md').read_text().splitlines()
    assert markdown[0].startswith('| model | params | pre-training data | iterations | val loss |'
                                  ' released | gain over zero prediction | top-1 |')
    assert markdown[2] == '| w16 | 0.31M | half | 60it | 0.6123 | - | 0.0995 | - | - | done |'


def test_tables_written_before_the_gain_columns_are_read(tmp_path):
    write_results(ROWS, tmp_path / 'new.csv')
    with open(tmp_path / 'new.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / 'old.csv', 'w', newline='') as f:
        columns = [c for c in rows[0] if c not in ('zero_prediction_loss', 'gain')]
        writer = csv.DictWriter(f, columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    old = read_results(tmp_path / 'old.csv')
    assert old[0].zero_prediction_loss is None and old[0].gain is None
    assert old[0].val_loss == 0.61234 and old[1] == ROWS[1]


def test_the_final_validation_is_read_from_the_logs_of_a_finished_run(tmp_path):
    """Validations at iterations 3 and 6 of a 6-iteration run (resumed once): the row has the
    values of iteration 6, an unfinished run has none."""
    config = tmp_path / 'six.py'
    config.write_text(f"_base_ = '{ROOT}/configs/pretrain/simmim_swinv2-b_125k_in1k.py'\n"
                      'train_cfg = dict(max_iters=6)\n')
    finished = StudyRun('b', 'mine', '6it', str(config))
    unfinished = StudyRun('b', 'mine', '6it', str(config), seed=1)
    validations = {3: (0.70, 0.69, 1 - 0.70 / 0.69), 6: (0.60, 0.69, 1 - 0.60 / 0.69)}
    for run in (finished, unfinished):
        for timestamp, steps in (('20260101_000000', [1, 2, 3]), ('20260101_010000', [4, 5, 6])):
            records = [dict(loss=1.0 / step, step=step) for step in steps]
            records += [{'reconstruction/loss': validations[s][0],
                         'reconstruction/zero_prediction_loss': validations[s][1],
                         'reconstruction/gain': validations[s][2], 'step': s}
                        for s in steps if s in validations]
            path = run.pretrain_work_dir(tmp_path) / timestamp / 'vis_data' / 'scalars.json'
            path.parent.mkdir(parents=True)
            path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    (finished.pretrain_work_dir(tmp_path) / 'iter_6.pth').touch()
    done, running = collect_results([finished, unfinished], tmp_path)
    assert (done.val_loss, done.zero_prediction_loss, done.gain) == validations[6]
    assert done.status == 'done'
    assert (running.val_loss, running.zero_prediction_loss, running.gain) == (None, None, None)
    assert running.status == 'pre-training (logged up to step 6)'
