# mmpretrain's runtime for the fine-tuning configs: validate and save every epoch, keeping
# the last 3 checkpoints and the one of the best top-1 accuracy.
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
