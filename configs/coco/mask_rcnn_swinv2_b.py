# Mask R-CNN + FPN with a SimMIM-pre-trained SwinV2-B on COCO, as Table 4 of
# "On Data Scaling in Masked Image Modeling": window 14, 1024x1024 LSJ crops (jitter
# [0.1, 2.0]), flip 0.5, test at (800, 1333), 36 epochs, AdamW 8e-5, stochastic depth 0.1.
# Train on 8 GPUs: tools/dist_train.sh configs/coco/mask_rcnn_swinv2_b.py 8
_base_ = [
    '../_base_/models/mask_rcnn_swinv2_fpn.py',
    '../_base_/datasets/coco_instance_lsj.py',
    '../_base_/schedules/coco_adamw_step_36e.py',
    '../_base_/default_runtime_det.py',
]
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

# The pre-trained backbone: our own SimMIM checkpoint, or the output of
# tools/model_converters/simmim2mmengine.py --backbone-only for a released one.
# Override with --cfg-options model.backbone.init_cfg.checkpoint=PATH (see README.md).
pretrained = 'work_dirs/simmim_swinv2-b_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=(1024, 1024), pad_mask=True)
    ]))

# Total batch 32 = 8 GPUs x 4 images; --auto-scale-lr rescales lr for other totals.
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=32, enable=False)
