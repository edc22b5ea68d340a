# Mask R-CNN with FPN (mmdet's own model) on a SwinV2 backbone fine-tuned from SimMIM.
# Arch-dependent values (arch, drop path, FPN widths) and the checkpoint are set per config.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mim_scaling.SwinV2',
        arch='base',
        # Windows are planned for the 1024-px LSJ crops: no stage is clipped to one window.
        img_size=1024,
        patch_size=4,
        window_size=14,
        # The position-bias MLP was trained on 192-px / window-12 inputs, where the last
        # stage (6x6 tokens) ran with a window of 6.
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        with_cp=False),
    # Stage widths C, 2C, 4C, 8C of SwinV2-B.
    neck=dict(in_channels=[128, 256, 512, 1024]))
