# The miniature on half of the training images of each class: the list that
# tools/dataset_converters/make_imagenet_subsets.py writes (see the README).
_base_ = './simmim_swinv2-demo-w32_200it_lfw.py'

train_dataloader = dict(dataset=dict(ann_file='meta/train_50pct.txt', with_label=True))
