# SimMIM with a SwinV2-H encoder at 192 px, window 12 (Table 1 of the spec).
_base_ = './simmim_swinv2-b.py'

model = dict(
    backbone=dict(arch='huge'),
    neck=dict(in_channels=352 * 8))
