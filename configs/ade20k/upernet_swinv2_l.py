# Table 5 with SwinV2-L: as upernet_swinv2_b.py, layer decay 0.9.
# Train on 8 GPUs: tools/dist_train.sh configs/ade20k/upernet_swinv2_l.py 8
_base_ = './upernet_swinv2_b.py'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

pretrained = 'work_dirs/simmim_swinv2-l_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(
        arch='large', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))

# Total batch 32 = 8 GPUs x 4 images, as in the base config.
