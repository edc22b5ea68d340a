# simmim_swinv2-demo_300it_skimage.py at 96 px, every size halved but the patch (16-px mask
# cells, window 6, target window 23), with twice the batch and twice the iterations, for
# about the same compute; it ends 3% below the zero prediction on the photographs
# (docs/learning.md), and the README's demo runs it on rendered patterns
# (simmim_swinv2-demo_600it_patterns-96px.py). Prepare the photographs with:
# python tools/misc/prepare_sample_images.py data/skimage_parts
_base_ = ['./simmim_swinv2-demo_300it_skimage.py']

model = dict(backbone=dict(img_size=96, window_size=6), target_generator=dict(window_size=23))

mask_generator = dict(
    type='mim_scaling.SimMIMMaskGenerator',
    input_size=96,
    mask_patch_size=16,
    model_patch_size=4,
    mask_ratio=0.6)
train_pipeline = [
    dict(
        type='mim_scaling.LoadImageRandomResizedCrop',
        scale=96,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='RandomFlip', prob=0.5),
    mask_generator,
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='ResizeEdge', scale=96, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=96),
    dict(mask_generator, seed=0),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

auto_scale_lr = dict(base_batch_size=16)  # the total batch: one process of 16
max_iters = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=60),
    dict(type='MultiStepLR', milestones=[500], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=200)
default_hooks = dict(checkpoint=dict(interval=200))
