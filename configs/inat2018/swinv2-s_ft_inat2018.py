# SwinV2-S fine-tuned on iNaturalist 2018 from a SimMIM checkpoint (Table 3).
# Total batch 2048 = 16 GPUs x 128 images:
#   tools/dist_train.sh configs/inat2018/swinv2-s_ft_inat2018.py 16
_base_ = ['../_base_/swinv2_ft_inat2018.py']

# The pre-trained encoder: our SimMIM checkpoint or a converter output (see README.md).
pretrained = 'work_dirs/simmim_swinv2-s_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
