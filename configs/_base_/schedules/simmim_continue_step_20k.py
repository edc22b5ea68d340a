# Continuing the pre-training of a released checkpoint: Table 1's recipe (AdamW, lr 4e-4 at
# a total batch of 2048, warm-up, step decay x0.1 at 7/8 of the run, clipping 5.0) shortened
# to 20k iterations. The lr follows the total batch actually used (GPUs x images per GPU),
# since few users continue with 2048 images per iteration.
_base_ = './simmim_step_125k.py'

max_iters = 20_000
warmup_iters = 1000
decay_iters = [17_500]
# The 125k schedule's schedulers at this length (each lr one update late, as the reference's).
param_scheduler = [
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=2),
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=1, end=warmup_iters + 2),
    dict(type='MultiStepLR', milestones=[i + 1 for i in decay_iters], gamma=0.1,
         by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=2000)
auto_scale_lr = dict(base_batch_size=2048, enable=True)
