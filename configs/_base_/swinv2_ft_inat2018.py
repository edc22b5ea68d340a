# iNaturalist 2018 fine-tuning of a SimMIM-pre-trained SwinV2 (Table 3): all that the models
# share. Each leaf adds its arch, head width, layer decay, pre-trained checkpoint
# (`pretrained`) and, where it is not 128, the batch per GPU.
_base_ = [
    './models/swinv2_cls.py',
    './datasets/inat2018_swinv2_ft_224.py',
    './schedules/inat2018_swinv2_ft_adamw_cos_100e.py',
    './default_runtime_cls.py',
]
model = dict(backbone=dict(init_cfg=dict(type='Pretrained')), head=dict(num_classes=8142))
