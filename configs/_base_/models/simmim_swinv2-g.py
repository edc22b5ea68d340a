# SimMIM with a SwinV2-g encoder at 192 px, window 12 (Table 1 of the spec).
_base_ = './simmim_swinv2-b.py'

model = dict(
    backbone=dict(arch='giant'),
    neck=dict(in_channels=448 * 8))
