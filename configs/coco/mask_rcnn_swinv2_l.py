# Table 4 with SwinV2-L: as mask_rcnn_swinv2_b.py, stochastic depth 0.2.
# Train on 8 GPUs: tools/dist_train.sh configs/coco/mask_rcnn_swinv2_l.py 8
_base_ = './mask_rcnn_swinv2_b.py'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

pretrained = 'work_dirs/simmim_swinv2-l_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 384, 768, 1536]))

# Total batch 32 = 8 GPUs x 4 images, as in the base config.
