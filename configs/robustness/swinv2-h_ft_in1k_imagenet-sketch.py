# SwinV2-H fine-tuned on ImageNet-1K (../imagenet/swinv2-h_ft_in1k.py), tested on ImageNet-Sketch:
# all 1000 classes, top-1 / top-5 as on ImageNet-1K val.
#   python tools/test.py configs/robustness/swinv2-h_ft_in1k_imagenet-sketch.py CHECKPOINT
_base_ = ['../imagenet/swinv2-h_ft_in1k.py']

test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mim_scaling.ImageNetSketch',
        data_root='data/imagenet-sketch',
        pipeline={{_base_.test_pipeline}}))
