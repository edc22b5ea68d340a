# Table 4 with SwinV2-S: as mask_rcnn_swinv2_b.py, stochastic depth 0.1.
# Train on 8 GPUs: tools/dist_train.sh configs/coco/mask_rcnn_swinv2_s.py 8
_base_ = './mask_rcnn_swinv2_b.py'
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

pretrained = 'work_dirs/simmim_swinv2-s_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))

# Total batch 32 = 8 GPUs x 4 images, as in the base config.
