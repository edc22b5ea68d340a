# `make learning-check`: the labelled miniature's pre-training, ten times longer. Validation
# (loss, zero-prediction loss, gain, k-NN top-1 of the frozen features) every 2500
# iterations and a checkpoint at each, kept; the lr decays x0.1 for the last tenth.
_base_ = './simmim_swinv2-demo-w32_2000it_patterns.py'

max_iters = 20000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=80),
    dict(type='MultiStepLR', milestones=[18000], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=2500)
default_hooks = dict(checkpoint=dict(interval=2500, max_keep_ckpts=-1))
