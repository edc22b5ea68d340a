# The labelled miniature's optional fine-tuning: the encoder of
# configs/demo/simmim_swinv2-demo-w32_2000it_patterns*.py fine-tuned as an eight-class pattern
# classifier on the 80 labelled images (10 per class) at its 32 px and window 4; top-1 on
# the 320 held-out images. Table 2's recipe (layer decay, Mixup/CutMix, label smoothing,
# RandAugment, drop path) shortened to 30 epochs of 3 iterations at a batch of 32.
_base_ = [
    '../_base_/models/swinv2_cls.py',
    '../_base_/datasets/imagenet_swinv2_ft_224.py',
    '../_base_/schedules/swinv2_ft_adamw_cos_100e.py',
    '../_base_/default_runtime_cls.py',
]

# The pre-trained encoder; tools/sweep.py sets it to the final checkpoint of each row.
pretrained = 'work_dirs/study_patterns/simmim_swinv2-demo-w32_2000it_patterns_seed0/iter_2000.pth'
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, depths=[2, 6], num_heads=[2, 4]),
        img_size=32,
        window_size=4,
        pretrained_window_sizes=[4, 4],  # the windows of the 32-px pre-training
        drop_path_rate=0.1,  # the pre-training's: 8 blocks, not SwinV2-B's 24
        out_indices=(1, ),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(num_classes=8, in_channels=64))

data_preprocessor = dict(num_classes=8)
data_root = 'data/patterns/'
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.08, 1.0),
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
# The images are rendered at 32 px: evaluated as they are.
test_pipeline = [dict(type='mim_scaling.LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# A batch of 32 instead of 2048: a larger lr than Table 2's linear scaling gives.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, eta_min=1e-6, by_epoch=True,
         begin=5, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(base_batch_size=32)  # the total batch: one process of 32
default_hooks = dict(
    logger=dict(interval=3),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
