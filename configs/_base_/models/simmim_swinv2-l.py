# SimMIM with a SwinV2-L encoder at 192 px, window 12 (the paper's Table 1).
_base_ = './simmim_swinv2-b.py'

model = dict(
    backbone=dict(arch='large'),
    neck=dict(in_channels=192 * 8))
