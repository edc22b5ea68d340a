# Fine-tuning schedule of Table 3 (iNaturalist 2018): that of Table 2 for S/B/L with
# lr 1.6e-2 (at the total batch of 2048) and weight decay 0.1; warm-up start and minimum
# stay at 1e-6.
_base_ = ['./swinv2_ft_adamw_cos_100e.py']

optim_wrapper = dict(optimizer=dict(lr=1.6e-2, weight_decay=0.1))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 1.6e-2, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, eta_min=1e-6, by_epoch=True, begin=20, end=100,
         convert_to_iter_based=True),
]
