# SwinV2-B fine-tuned on ImageNet-1K from a SimMIM checkpoint (Table 2).
# Total batch 2048 = 16 GPUs x 128 images:
#   tools/dist_train.sh configs/imagenet/swinv2-b_ft_in1k.py 16
_base_ = ['../_base_/swinv2_ft_in1k.py', '../_base_/schedules/swinv2_ft_adamw_cos_100e.py']

# The pre-trained encoder: our SimMIM checkpoint or a converter output (see README.md).
pretrained = 'work_dirs/simmim_swinv2-b_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(arch='base', init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.75))
