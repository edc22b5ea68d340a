default_scope = 'mmpretrain'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)
# mim_scaling's Runner carries out what mmengine alone would not (skip_unreadable_images,
# tensorboard, memory_saving, an eager optimizer update under compile, gloo without a GPU),
# whichever OpenMMLab tools/train.py (or RUNNERS.build) builds it.
runner_type = 'mim_scaling.Runner'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    # log_metric_by_epoch=False: validation losses are logged at their iteration, not epoch 0.
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, writing atomically, with each rank's random states.
    checkpoint=dict(
        type='mim_scaling.AtomicCheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Stops a run that another Runner than runner_type built (e.g. mmengine's own
    # Runner.from_cfg), which would drop the keys below without a word.
    runner_type_check=dict(type='mim_scaling.RunnerTypeCheckHook'),
)
custom_hooks = [
    # A warning in the log when validation finds the model predicting about the local mean.
    dict(type='mim_scaling.TrivialSolutionHook'),
    dict(type='mim_scaling.LossCurveHook'),
    dict(type='mim_scaling.ReconstructionVisualizationHook', num_images=4),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
# True (or --cfg-options tensorboard=True, for any config) also logs to TensorBoard, in
# <work_dir>/<timestamp>/vis_data/; needs pip install -e ".[tensorboard]".
tensorboard = False
log_processor = dict(
    by_epoch=False,
    window_size=10,
    # mmengine averages every logged key matching 'loss' over the last 10 values, which for
    # the validation losses would mix in earlier validations: log each one as it is
    # (reconstruction/gain, without 'loss' in its name, is logged as it is anyway).
    custom_cfg=[
        dict(data_src='reconstruction/loss', method_name='mean', window_size=1),
        dict(data_src='reconstruction/zero_prediction_loss', method_name='mean', window_size=1),
    ])
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
# True (or a dict of torch.compile options, e.g. dict(mode='max-autotune')) compiles the
# training step with torch.compile (mmengine's Runner; mim_scaling's keeps the optimizer
# update eager): e.g. --cfg-options compile=True. The first iterations then take minutes.
compile = False
# True: a training image that cannot be read (missing, empty, truncated, not an image) is
# replaced by another sample and logged instead of stopping the run (see README).
skip_unreadable_images = False
# True: the GPU data path. Dataloader workers only read the files and draw crops, flips and
# masks; the model's data preprocessor decodes (nvJPEG), crops, resizes and flips the batch
# on the GPU. For fast GPUs with few CPU cores each (configs/pretrain/README.md).
decode_on_device = False
