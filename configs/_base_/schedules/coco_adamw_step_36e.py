# Table 4 schedule: 36 epochs, AdamW, 500 linear warm-up iterations, x0.1 at epochs 27 and 33.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]

# Table 4 has no layer decay (rate 1.0). The layer-decay constructor is still used because it
# holds the package's one no-weight-decay rule: norms and all 1-D parameters (biases, and the
# q_bias / v_bias that mmengine's default `bias_decay_mult` misses since it only matches
# parameters named `bias`), mask_token, cpb_mlp and logit_scale. A layer-decay sweep is then
# a single value: --cfg-options optim_wrapper.paramwise_cfg.layer_decay_rate=0.9
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=8e-5,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.05),
    constructor='mim_scaling.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0))
