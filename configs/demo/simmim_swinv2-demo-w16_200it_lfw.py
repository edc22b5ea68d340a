# The miniature's smaller model: half the width of the demo model.
_base_ = './simmim_swinv2-demo-w32_200it_lfw.py'

model = dict(
    backbone=dict(arch=dict(embed_dims=16, num_heads=[1, 1, 2, 4])),
    neck=dict(in_channels=16 * 8))
