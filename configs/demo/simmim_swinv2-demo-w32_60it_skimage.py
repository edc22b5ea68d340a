# The README's miniature of the study (configs/demo/sweep_grid_skimage.py): the demo model,
# 60 iterations on all the demo photographs. Lengths: the demo schedule scaled down.
_base_ = './simmim_swinv2-demo_300it_skimage.py'

max_iters = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=6),
    dict(type='MultiStepLR', milestones=[50], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=20)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
