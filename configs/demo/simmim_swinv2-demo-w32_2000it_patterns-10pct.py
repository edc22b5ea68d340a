# The labelled miniature's smaller data set: the first tenth of the pool (400 images).
_base_ = './simmim_swinv2-demo-w32_2000it_patterns.py'

train_dataloader = dict(dataset=dict(ann_file='meta/unlabelled_10pct.txt'))
