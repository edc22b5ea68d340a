# SwinV2-L fine-tuned on ImageNet-1K (../imagenet/swinv2-l_ft_in1k.py), tested on ImageNet-A:
# the 1000-way scores restricted to its 200 classes before the top-k (README.md).
#   python tools/test.py configs/robustness/swinv2-l_ft_in1k_imagenet-a.py CHECKPOINT
_base_ = ['../imagenet/swinv2-l_ft_in1k.py']

test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mim_scaling.ImageNetA',
        data_root='data/imagenet-a',
        pipeline={{_base_.test_pipeline}}))
test_evaluator = dict(type='mim_scaling.ClassSubsetAccuracy', topk=(1, 5))
