# The miniature's fine-tuning (configs/demo/sweep_grid_lfw.py): the demo SwinV2
# pre-trained by configs/demo/simmim_swinv2-demo-w32_200it_lfw*.py, fine-tuned as a face /
# non-face classifier at the 64 px and window 4 of its pre-training; top-1 on the 40
# validation images. Table 2's recipe (layer decay, Mixup/CutMix, label smoothing,
# RandAugment, drop path), shortened to 30 epochs of 5 iterations, at a batch of 32.
_base_ = [
    '../_base_/models/swinv2_cls.py',
    '../_base_/datasets/lfw_subset_swinv2_ft_64.py',
    '../_base_/schedules/swinv2_ft_adamw_cos_100e.py',
    '../_base_/default_runtime_cls.py',
]
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

# The pre-trained encoder; tools/sweep.py sets it to the final checkpoint of each row.
pretrained = 'work_dirs/study_lfw/simmim_swinv2-demo-w32_200it_lfw/iter_200.pth'

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
        img_size=64,
        window_size=4,
        pretrained_window_sizes=[4, 4, 4, 2],  # the windows of the 64-px pre-training
        drop_path_rate=0.1,  # the pre-training's: 8 blocks, not SwinV2-B's 24
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(num_classes=2, in_channels=32 * 8))

# A batch of 32 instead of 2048: a larger lr than Table 2's linear scaling gives.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, eta_min=1e-6, by_epoch=True,
         begin=5, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=32)  # the total batch: one process of 32
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
