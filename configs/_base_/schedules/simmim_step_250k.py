# Table 1 at 250k iterations: the 125k schedule with the step at 218,750 (7/8 of training).
_base_ = './simmim_step_125k.py'

max_iters = 250_000
warmup_iters = 6250
decay_iters = [218_750]
param_scheduler = [
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=0, end=warmup_iters),
    # begin=0: milestones count from the start of training, not from the end of warm-up.
    dict(type='MultiStepLR', milestones=decay_iters, gamma=0.1, by_epoch=False,
         begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
