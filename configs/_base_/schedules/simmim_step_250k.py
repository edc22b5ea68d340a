# Table 1 at 250k iterations: the 125k schedule with the step at 218,750 (7/8 of training).
_base_ = './simmim_step_125k.py'

max_iters = 250_000
warmup_iters = 6250
decay_iters = [218_750]
# The 125k schedule's schedulers at this length (the reference's lr, update by update).
param_scheduler = [
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=2),
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=1, end=warmup_iters + 2),
    dict(type='MultiStepLR', milestones=[i + 1 for i in decay_iters], gamma=0.1,
         by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
