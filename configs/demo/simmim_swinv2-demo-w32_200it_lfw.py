# The README's miniature of the study (configs/demo/sweep_grid_lfw.py): the demo
# model pre-trained for 200 iterations on the 160 training images that
# tools/misc/prepare_lfw_subset.py writes (their labels unused), at 64 px instead of 192:
# the 25-px images gain nothing from more. Window 4, 16-px mask cells and a 15-px target
# window are Table 1's 12, 32 and 47 scaled to the smaller input.
_base_ = './simmim_swinv2-demo_300it_skimage.py'

model = dict(
    backbone=dict(img_size=64, window_size=4),
    target_generator=dict(window_size=15))

data_root = 'data/lfw_subset/'
mask_generator = dict(
    type='mim_scaling.SimMIMMaskGenerator',
    input_size=64,
    mask_patch_size=16,
    model_patch_size=4,
    mask_ratio=0.6)
train_pipeline = [
    dict(
        type='mim_scaling.LoadImageRandomResizedCrop',
        scale=64,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='RandomFlip', prob=0.5),
    mask_generator,
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),
    dict(type='ResizeEdge', scale=64, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=64),
    dict(mask_generator, seed=0),
    dict(type='PackInputs'),
]
auto_scale_lr = dict(base_batch_size=16)  # the total batch: one process of 16
train_dataloader = dict(
    batch_size=16,
    num_workers=0,  # 25-px files: worker processes would cost more than they save
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=40, dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

max_iters = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', milestones=[175], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=50)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
