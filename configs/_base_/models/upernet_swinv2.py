# UPerNet (mmseg's own model, SyncBN heads) on a SwinV2 backbone fine-tuned from SimMIM.
# Arch-dependent values (arch, head widths) and the checkpoint are set per config.
_base_ = 'mmseg::_base_/models/upernet_swin.py'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mim_scaling.SwinV2',
        arch='base',
        # Windows are planned for the 640-px crops: the last stage (20x20 tokens) is exactly
        # one window and does not shift.
        img_size=640,
        patch_size=4,
        window_size=20,
        # The position-bias MLP was trained on 192-px / window-12 inputs, where the last
        # stage (6x6 tokens) ran with a window of 6.
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        with_cp=False),
    # Stage widths C, 2C, 4C, 8C of SwinV2-B; the auxiliary FCN head reads stage 2 (4C).
    decode_head=dict(in_channels=[128, 256, 512, 1024], num_classes=150),
    auxiliary_head=dict(in_channels=512, num_classes=150))
