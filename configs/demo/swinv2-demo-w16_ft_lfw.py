# The miniature's fine-tuning of the smaller model (half the width).
_base_ = './swinv2-demo-w32_ft_lfw.py'

pretrained = 'work_dirs/study_lfw/simmim_swinv2-demo-w16_200it_lfw/iter_200.pth'

model = dict(
    backbone=dict(
        arch=dict(embed_dims=16, num_heads=[1, 1, 2, 4]),
        init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=16 * 8))
