# Fine-tuning schedule of Table 2 for SwinV2-H / g: 50 epochs, the first 10 of warm-up.
_base_ = ['./swinv2_ft_adamw_cos_100e.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=40, eta_min=1e-6, by_epoch=True, begin=10, end=50,
         convert_to_iter_based=True),
]

train_cfg = dict(max_epochs=50)
