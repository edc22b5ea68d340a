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
    # The constructor holds the reference's no-weight-decay rule; 'as_released' is the one
    # its pre-training ran with (no decay for norms, biases, q/v biases and the mask token;
    # decay for cpb_mlp's weights and logit_scale), 'as_intended' also exempts those two
    # (mim_scaling/engine/optimizers/no_weight_decay.py).
    constructor='mim_scaling.MergedGroupsOptimWrapperConstructor',
    paramwise_cfg=dict(no_decay_rule='as_released'))

max_iters = 125_000
warmup_iters = 6250
decay_iters = [109_375]
# The reference's lr, update by update: its loop sets the lr of each update after the one
# before (timm's step_update(i) after update i), so its updates 0 and 1 both run at the
# warm-up start and every later value comes one update late: 4e-4 from update
# warmup_iters + 1, x0.1 from update decay_iters + 1. mmengine sets the lr of iteration i
# from i; the three schedulers below give the reference's values (tests/configs/
# test_pretrain_configs.py checks them against the reference's scheduler).
param_scheduler = [
    # The reference warms up from 5e-7 per 512 images, i.e. 2e-6 at 2048 = 4e-4 * 0.005.
    # Update 0 (mmengine's ConstantLR restores the lr at its last iteration, end - 1) ...
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=2),
    # ... then the warm-up from update 1, in warmup_iters equal steps.
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=1, end=warmup_iters + 2),
    # begin=0: milestones count from the start of training, not from the end of warm-up.
    dict(type='MultiStepLR', milestones=[i + 1 for i in decay_iters], gamma=0.1,
         by_epoch=False, begin=0, end=max_iters),
]

# mmengine's IterBasedTrainLoop, resuming exactly and without reloading the trained batches.
train_cfg = dict(
    type='mim_scaling.ResumableIterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Rates above are for 2048 images per iteration; --auto-scale-lr rescales them to others.
auto_scale_lr = dict(base_batch_size=2048, enable=False)
