# The miniature's smaller model on half of the training images of each class.
_base_ = './simmim_swinv2-demo-w16_200it_lfw.py'

train_dataloader = dict(dataset=dict(ann_file='meta/train_50pct.txt', with_label=True))
