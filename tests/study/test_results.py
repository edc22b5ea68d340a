"""Results of one's own grid: parameter counts for the zoo's column, CSV round trip."""
from mim_scaling.study import StudyResult, backbone_params, read_results, write_results

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


def test_results_survive_a_csv_round_trip(tmp_path):
    rows = [StudyResult('w16', 'half', '60it', '0.31M', val_loss=0.61234, status='done',
                        pretrain_work_dir='/w/a'),
            StudyResult('SwinV2-Base', 'ImageNet-1K', '125k', '87M', None, 84.1,
                        released_val_loss=0.468, released_top1=84.13, status='pre-trained')]
    write_results(rows, tmp_path / 'r.csv', tmp_path / 'r.md')
    assert read_results(tmp_path / 'r.csv') == rows
    markdown = (tmp_path / 'r.md').read_text().splitlines()
    assert markdown[2] == '| w16 | 0.31M | half | 60it | 0.6123 | - | - | - | done |'
