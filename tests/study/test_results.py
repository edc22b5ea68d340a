"""Results of one's own grid: parameter counts for the zoo's column, CSV round trip."""
from mmengine.config import Config

from mim_scaling.registry import MODELS
from mim_scaling.study import StudyResult, backbone_params, read_results, write_results

W16 = 'configs/demo/simmim_swinv2-demo-w16_60it_skimage.py'


def test_backbone_params_counts_the_built_backbone(monkeypatch):
    monkeypatch.chdir(__file__.rsplit('/tests/', 1)[0])
    backbone = MODELS.build(Config.fromfile(W16).model.backbone)
    count = sum(p.numel() for p in backbone.parameters())
    assert backbone_params(W16) == f'{count / 1e6:.3g}M'
    wider = backbone_params(W16, ('model.backbone.arch.embed_dims=32',))
    assert float(wider[:-1]) > 3 * float(backbone_params(W16)[:-1])


def test_results_survive_a_csv_round_trip(tmp_path):
    rows = [StudyResult('w16', 'half', '60it', '0.31M', val_loss=0.61234, status='done',
                        pretrain_work_dir='/w/a'),
            StudyResult('SwinV2-Base', 'ImageNet-1K', '125k', '87M', None, 84.1,
                        released_val_loss=0.468, released_top1=84.13, status='pre-trained')]
    write_results(rows, tmp_path / 'r.csv', tmp_path / 'r.md')
    assert read_results(tmp_path / 'r.csv') == rows
    markdown = (tmp_path / 'r.md').read_text().splitlines()
    assert markdown[2] == '| w16 | 0.31M | half | 60it | 0.6123 | - | - | - | done |'
