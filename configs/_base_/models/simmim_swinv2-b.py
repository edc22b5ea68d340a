# SimMIM with a SwinV2-B encoder at 192 px, window 12 (the paper's Table 1).
# Other widths: override model.backbone.arch and model.neck.in_channels (= 8 * embed_dims).
model = dict(
    type='mim_scaling.SimMIM',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mim_scaling.SwinV2',
        arch='base',
        img_size=192,
        patch_size=4,
        window_size=12,
        drop_path_rate=0.1,
        out_indices=(3, ),
        use_mask_token=True),
    neck=dict(type='mim_scaling.SimMIMLinearDecoder', in_channels=128 * 8, encoder_stride=32),
    head=dict(
        type='SimMIMHead',
        patch_size=4,
        loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)),
    target_generator=dict(type='mim_scaling.SlidingWindowNormTarget', window_size=47))
