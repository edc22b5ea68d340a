# UPerNet with a SimMIM-pre-trained SwinV2-B on ADE20K, as Table 5 of
# "On Data Scaling in Masked Image Modeling": window 20, 640x640 crops with scale jitter
# [0.5, 2.0], flip 0.5, photometric distortion; sliding-window test (640 windows, stride 426)
# at (640, 2560); 80k iterations, layer decay 0.95, stochastic depth 0.1; mIoU.
# Train on 8 GPUs: tools/dist_train.sh configs/ade20k/upernet_swinv2_b.py 8
_base_ = [
    '../_base_/models/upernet_swinv2.py',
    '../_base_/datasets/ade20k_640x640.py',
    '../_base_/schedules/ade20k_adamw_linear_80k.py',
    '../_base_/default_runtime_seg.py',
]
custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)

# The pre-trained backbone: our own SimMIM checkpoint, or the output of
# tools/model_converters/simmim2mmengine.py --backbone-only for a released one.
# Override with --cfg-options model.backbone.init_cfg.checkpoint=PATH (see README.md).
pretrained = 'work_dirs/simmim_swinv2-b_500k_in1k/iter_500000.pth'

crop_size = (640, 640)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        arch='base',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(426, 426)))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))

# Total batch 32 = 8 GPUs x 4 images; --auto-scale-lr rescales lr for other totals.
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=32, enable=False)
