# SwinV2-L fine-tuned on iNaturalist 2018 from a SimMIM checkpoint (Table 3).
# Total batch 2048 = 32 GPUs x 64 images:
#   tools/dist_train.sh configs/inat2018/swinv2-l_ft_inat2018.py 32
_base_ = ['../_base_/swinv2_ft_inat2018.py']

# The pre-trained encoder: our SimMIM checkpoint or a converter output (see README.md).
pretrained = 'work_dirs/simmim_swinv2-l_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(arch='large', init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=1536))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.7))

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
