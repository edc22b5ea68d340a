# mmseg's runtime, run by mim_scaling's Runner, which carries out the mim_scaling keys of a
# config (memory_saving, skip_unreadable_images, tensorboard, ...) under any tools/train.py.
# (models/upernet_swinv2.py imports mim_scaling, which registers the Runner.)
_base_ = 'mmseg::_base_/default_runtime.py'
runner_type = 'mim_scaling.Runner'
# Stops a run that another Runner built (e.g. mmengine's own Runner.from_cfg), which would
# drop the mim_scaling keys without a word. (In custom_hooks: the library's schedule bases
# own default_hooks.)
custom_hooks = [dict(type='mim_scaling.RunnerTypeCheckHook')]
