# mmseg's ADE20K at 640x640 (its pipelines, unchanged but for the image loader, which names
# any unreadable file).
_base_ = 'mmseg::_base_/datasets/ade20k_640x640.py'

train_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2560, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    # Annotations after Resize: the ground truth is compared at its own size.
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
