# SwinV2 image classifier for fine-tuning a 192-px window-12 SimMIM encoder at 224 px with
# window 14 (Tables 2 and 3). mmpretrain's SwinV2 classifier gives the rest as the reference
# has it: average pooling, a linear head, label smoothing 0.1 (applied to the mixed targets
# too, as timm does), Mixup alpha 0.8 or CutMix alpha 1.0 on every batch (one of the two
# with probability 0.5), truncated-normal (std 0.02) Linear initialisation.
# The leaf configs set the arch, the head width and the pre-trained checkpoint.
_base_ = ['mmpretrain::_base_/models/swin_transformer_v2/base_256.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='mim_scaling.SwinV2',
        arch='base',
        img_size=224,
        patch_size=4,
        window_size=14,
        # Windows of the 192-px pre-training: the last stage (6x6) used its whole map.
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.2,
        out_indices=(3, )))
