# ImageNet-1K fine-tuning of a SimMIM-pre-trained SwinV2 (Table 2): all that the models share.
# Each leaf adds its schedule (100 or 50 epochs), arch, head width, layer decay, pre-trained
# checkpoint (`pretrained`) and, where it is not 128, the batch per GPU.
_base_ = [
    './models/swinv2_cls.py',
    './datasets/imagenet_swinv2_ft_224.py',
    './default_runtime_cls.py',
]
model = dict(backbone=dict(init_cfg=dict(type='Pretrained')))
