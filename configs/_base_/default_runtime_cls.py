# mmpretrain's runtime for the fine-tuning configs: validate and save every epoch, keeping
# the last 3 checkpoints and the one of the best top-1 accuracy.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)
# mim_scaling's Runner carries out skip_unreadable_images and tensorboard below, whichever
# OpenMMLab tools/train.py (or RUNNERS.build) builds it.
runner_type = 'mim_scaling.Runner'

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    # Stops a run that another Runner than runner_type built (e.g. mmengine's own
    # Runner.from_cfg), which would drop the keys below without a word.
    runner_type_check=dict(type='mim_scaling.RunnerTypeCheckHook'))
# True: a training image that cannot be read (missing, empty, truncated, not an image) is
# replaced by another sample and logged instead of stopping the run (see README).
skip_unreadable_images = False
# True (or --cfg-options tensorboard=True, for any config) also logs to TensorBoard, in
# <work_dir>/<timestamp>/vis_data/; needs pip install -e ".[tensorboard]".
tensorboard = False
