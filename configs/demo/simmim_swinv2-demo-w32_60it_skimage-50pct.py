# The miniature on half of the demo photographs: the list that
# tools/dataset_converters/make_imagenet_subsets.py writes (see the README).
_base_ = './simmim_swinv2-demo-w32_60it_skimage.py'

train_dataloader = dict(dataset=dict(ann_file='meta/train_50pct.txt', with_label=True))
