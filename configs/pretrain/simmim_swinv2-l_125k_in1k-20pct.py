# SimMIM pre-training of SwinV2-L on 20% of ImageNet-1K for 125k iterations (Table 1):
# the ImageNet-1K config, GPUs and batch included, on a class-balanced subset of
# the training images made by tools/dataset_converters/make_imagenet_subsets.py.
_base_ = ['./simmim_swinv2-l_125k_in1k.py']
train_dataloader = dict(dataset=dict(ann_file='meta/train_20pct.txt'))
