# SimMIM with a SwinV2-g encoder at 192 px, window 12 (the paper's Table 1),
# with the memory settings that fit it into 80 GB GPUs at 64 images each (docs/memory.md).
_base_ = ['./simmim_swinv2-b.py', '../memory_ckpt_bf16_zero1.py']

model = dict(
    backbone=dict(arch='giant'),
    neck=dict(in_channels=448 * 8))
