# Face / non-face classification on scikit-image's lfw_subset as
# tools/misc/prepare_lfw_subset.py writes it (class folders under train/ and val/), for the
# miniature of the study: Table 2's fine-tuning pipeline at 64 px instead of 224.
_base_ = './imagenet_swinv2_ft_224.py'

data_preprocessor = dict(num_classes=2)
data_root = 'data/lfw_subset/'
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]

train_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),  # greyscale files come out as 3 channels
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.08, 1.0),
         aspect_ratio_range=(3. / 4., 4. / 3.), backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, aspect_range=(3 / 10, 10 / 3), fill_color=bgr_mean,
         fill_std=bgr_std),
    dict(type='PackInputs'),
]
# Short side to 73 (= 64 / 0.875), then a centre crop of 64.
test_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='ResizeEdge', scale=73, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,  # 25-px files: worker processes would cost more than they save
    persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=40,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
# Two classes: no top-5.
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
