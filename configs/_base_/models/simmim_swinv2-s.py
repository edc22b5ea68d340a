# SimMIM with a SwinV2-S encoder at 192 px, window 12 (the paper's Table 1).
_base_ = './simmim_swinv2-b.py'

model = dict(
    backbone=dict(arch='small'),
    neck=dict(in_channels=96 * 8))
