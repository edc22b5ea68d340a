# The miniature's smaller model on half of the demo photographs.
_base_ = './simmim_swinv2-demo-w16_60it_skimage.py'

train_dataloader = dict(dataset=dict(ann_file='meta/train_50pct.txt', with_label=True))
