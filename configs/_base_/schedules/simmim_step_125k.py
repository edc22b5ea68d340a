# Table 1: AdamW lr 4e-4 at a total batch of 2048, step decay x0.1, 6250 warm-up iterations,
# gradient clipping 5.0, 125k iterations (250k / 500k configs override the lengths).
optim_wrapper = dict(
    # Stops at the first non-finite loss, before the step; non_finite='skip' skips such steps.
    type='mim_scaling.FiniteLossOptimWrapper',
    # fused: PyTorch's one-pass AdamW kernel, the same update as the loop over parameters in
    # a third of its time on a CPU (docs/benchmarks.md) and in fewer kernels on a GPU.
    optimizer=dict(
        type='AdamW', lr=4e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=5.0),
    # mmengine's own paramwise rules, with the parameters of equal options in one group
    # (three for SimMIM, not one per parameter): the same update in fewer optimizer calls.
    # The constructor holds the reference's no-weight-decay rule: norms, biases, q/v biases,
    # mask_token, cpb_mlp and logit_scale (mim_scaling/engine/optimizers/no_weight_decay.py).
    constructor='mim_scaling.MergedGroupsOptimWrapperConstructor')

max_iters = 125_000
warmup_iters = 6250
decay_iters = [109_375]
param_scheduler = [
    # The reference warms up from 5e-7 per 512 images, i.e. 2e-6 at 2048 = 4e-4 * 0.005.
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=0, end=warmup_iters),
    # begin=0: milestones count from the start of training, not from the end of warm-up.
    dict(type='MultiStepLR', milestones=decay_iters, gamma=0.1, by_epoch=False,
         begin=0, end=max_iters),
]

# mmengine's IterBasedTrainLoop, resuming exactly and without reloading the trained batches.
train_cfg = dict(
    type='mim_scaling.ResumableIterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Rates above are for 2048 images per iteration; --auto-scale-lr rescales them to others.
auto_scale_lr = dict(base_batch_size=2048, enable=False)
