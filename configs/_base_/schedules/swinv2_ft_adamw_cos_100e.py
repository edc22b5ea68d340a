# Fine-tuning schedule of Table 2 (S/B/L): AdamW with layer-wise lr decay, 20 epochs of
# linear warm-up, then cosine to the end of epoch 100, both stepped every iteration.
# Learning rates are those of the total batch of 2048 (the reference sets 1.25e-3 per 512
# images, and 2.5e-7 per 512 for the warm-up start and the minimum, i.e. 1e-6 here).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-3, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=5.0),
    constructor='mim_scaling.LayerDecayOptimWrapperConstructor',
    # The leaf configs set the decay of their model; norms, biases, cpb_mlp and logit_scale
    # get no weight decay (the constructor's defaults).
    paramwise_cfg=dict(layer_decay_rate=0.75))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, eta_min=1e-6, by_epoch=True, begin=20, end=100,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# --auto-scale-lr rescales the lr linearly from this total batch.
auto_scale_lr = dict(base_batch_size=2048, enable=False)
