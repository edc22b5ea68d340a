# SimMIM pre-training of a small SwinV2 on scikit-image's sample photographs, on the CPU in
# a few minutes: the base of the demo configs (`make demo` runs
# simmim_swinv2-demo_600it_patterns-96px.py) and of the photographs' study in docs/learning.md.
# Everything but the model width, the data and the length is Table 1's setting: 192 px,
# window 12, patch 4, mask patch 32, ratio 0.6, normalised target with window 47, AdamW with
# warm-up, step decay and clipping.
# The validation loss is on the held-out third of each photograph (docs/learning.md).
# Prepare the images with: python tools/misc/prepare_sample_images.py data/skimage_parts
_base_ = [
    '../_base_/models/simmim_swinv2-b.py',
    '../_base_/datasets/folder_simmim_192.py',
    '../_base_/schedules/simmim_step_125k.py',
    '../_base_/default_runtime_pretrain.py',
]

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])),
    neck=dict(in_channels=32 * 8))

data_root = 'data/skimage_parts/'
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

# A batch of 8 instead of 2048 and a 1000x smaller model: a larger lr than Table 1's.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=8)  # the total batch: one process of 8
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', milestones=[250], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=100, max_keep_ckpts=2))
