"""The OpenMMLab stack on current PyTorch: imports, mmcv's compiled ops on the CPU, and
``mim_scaling.`` types resolving from the registries of each library."""
import subprocess
import sys
import textwrap

import pytest
import torch


def test_libraries_import_at_the_versions_that_work_together():
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    assert mmcv.__version__ == '2.1.0'
    assert mmengine.__version__ == '0.10.7'
    assert mmdet.__version__ == '3.3.0'
    assert mmseg.__version__ == '1.2.2'
    assert mmpretrain.__version__ == '1.2.0'


def test_mmcv_nms_on_cpu_matches_hand_computed_ious():
    from mmcv.ops import nms
    boxes = torch.tensor([
        [0., 0., 10., 10.],  # A
        [1., 1., 11., 11.],  # B: overlap 9 x 9 = 81 with A, IoU 81 / (100 + 100 - 81) = 0.681
        [20., 20., 30., 30.],  # C: disjoint from all
        [0., 0., 10., 5.],  # D: inside A, IoU 50 / 100 = 0.5 with A; 36 / 114 = 0.316 with B
    ])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])

    dets, keep = nms(boxes, scores, iou_threshold=0.6)
    assert keep.tolist() == [0, 2, 3]  # B goes (0.681 > 0.6 with A); D stays (0.5)
    torch.testing.assert_close(dets, torch.cat([boxes, scores[:, None]], 1)[[0, 2, 3]])

    _, keep = nms(boxes, scores, iou_threshold=0.4)
    assert keep.tolist() == [0, 2]  # now D goes too (0.5 > 0.4 with A)

    _, keep = nms(boxes, scores, iou_threshold=0.7)
    assert keep.tolist() == [0, 1, 2, 3]  # nothing overlaps that much


def test_mmcv_roi_align_on_cpu_matches_hand_computed_bilinear_value():
    from mmcv.ops import RoIAlign
    ys, xs = torch.meshgrid(torch.arange(4.), torch.arange(4.), indexing='ij')
    feature = (xs**2 + 10 * ys**2)[None, None]  # f(y, x) = x^2 + 10 y^2 on a 4 x 4 grid
    # One bin, one sample at the box centre; aligned=True shifts by half a pixel:
    # x = (1.0 + 2.2) / 2 - 0.5 = 1.1, y = (1.0 + 1.6) / 2 - 0.5 = 0.8.
    roi = torch.tensor([[0., 1.0, 1.0, 2.2, 1.6]])
    pooled = RoIAlign(output_size=1, spatial_scale=1.0, sampling_ratio=1, aligned=True)(
        feature, roi)
    # Bilinear between f(0,1)=1, f(0,2)=4, f(1,1)=11, f(1,2)=14 with weights
    # (1-0.8)(1-0.1), (1-0.8)0.1, 0.8(1-0.1), 0.8 * 0.1:
    expected = 0.2 * 0.9 * 1 + 0.2 * 0.1 * 4 + 0.8 * 0.9 * 11 + 0.8 * 0.1 * 14  # 9.3
    torch.testing.assert_close(pooled, torch.full((1, 1, 1, 1), expected))


def test_mmcv_roi_align_agrees_with_torchvision():
    from mmcv.ops import roi_align
    from torchvision.ops import roi_align as tv_roi_align
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 16, 16, generator=generator)
    rois = torch.tensor([[0., 1.3, 2.1, 9.7, 12.4], [1., 0., 0., 15., 15.],
                         [1., 4.5, 3.2, 6.1, 5.9]])
    for aligned in (True, False):
        ours = roi_align(features, rois, (7, 7), 0.5, 2, 'avg', aligned)
        reference = tv_roi_align(features, rois, (7, 7), 0.5, 2, aligned)
        torch.testing.assert_close(ours, reference)


SCOPED_NAMES = [
    ('MODELS', 'mim_scaling.SwinV2'),
    ('MODELS', 'mim_scaling.SimMIM'),
    ('TRANSFORMS', 'mim_scaling.SimMIMMaskGenerator'),
]


@pytest.mark.parametrize('library', ['mmpretrain', 'mmdet', 'mmseg'])
@pytest.mark.parametrize('registry,name', SCOPED_NAMES)
def test_mim_scaling_types_resolve_from_each_library_scope(library, registry, name):
    import importlib

    import mim_scaling.registry
    from mmengine.registry import DefaultScope
    found = getattr(importlib.import_module(f'{library}.registry'), registry)
    ours = getattr(mim_scaling.registry, registry)
    expected = ours.get(name.split('.', 1)[1])
    assert expected is not None, f'{name} is not registered by mim_scaling'
    with DefaultScope.overwrite_default_scope(library):
        assert found.get(name) is expected


def test_custom_imports_registers_the_package(tmp_path):
    config = tmp_path / 'uses_plugin.py'
    config.write_text("default_scope = 'mmdet'\n"
                      "custom_imports = dict(imports=['mim_scaling'], "
                      "allow_failed_imports=False)\n")
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.runner import CheckpointLoader
        assert 'mim_scaling' not in sys.modules
        Config.fromfile({str(config)!r})
        assert 'mim_scaling' in sys.modules
        from mmdet.registry import MODELS
        import mim_scaling.safe_loading as checkpoint
        assert MODELS.get('mim_scaling.SwinV2') is not None
        assert CheckpointLoader._get_checkpoint_loader('x.pth') is checkpoint.load_from_local
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
