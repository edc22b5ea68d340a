# SwinV2-H fine-tuned on ImageNet-1K from a SimMIM checkpoint (Table 2).
# Total batch 2048 = 32 GPUs x 64 images:
#   tools/dist_train.sh configs/imagenet/swinv2-h_ft_in1k.py 32
# The memory plan of H/g pre-training: activation checkpointing, bf16 autocast, AdamW's
# states sharded over the GPUs (docs/memory.md).
_base_ = ['../_base_/swinv2_ft_in1k.py', '../_base_/schedules/swinv2_ft_adamw_cos_50e.py',
          '../_base_/memory_ckpt_bf16_zero1.py']

# The pre-trained encoder: our SimMIM checkpoint or a converter output (see README.md).
pretrained = 'work_dirs/simmim_swinv2-h_500k_in1k/iter_500000.pth'

model = dict(
    backbone=dict(arch='huge', init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=2816))
# The finite-loss wrapper, which memory_saving.bf16 runs under bf16 autocast: without loss
# scaling nothing else would stop at a non-finite loss.
optim_wrapper = dict(type='mim_scaling.FiniteLossOptimWrapper',
                     paramwise_cfg=dict(layer_decay_rate=0.65))

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
