# The README's demo (`make demo`): simmim_swinv2-demo_600it_skimage-96px.py on rendered
# patterns instead of photographs, whose normalised target a model this small cannot
# predict much better than zero in a few minutes (docs/learning.md). It pre-trains on 1000
# unlabelled 96-px patterns and validates on 32 held-out ones. Prepare the images with:
# python tools/misc/make_patterns.py data/patterns-96px --size 96 --pool 1000 \
#     --train-per-class 4 --val-per-class 4
_base_ = ['./simmim_swinv2-demo_600it_skimage-96px.py']

data_root = 'data/patterns-96px/'
train_dataloader = dict(dataset=dict(data_root=data_root, data_prefix='unlabelled'))
# One batch holds the whole held-out set, so the reconstruction figure draws from all classes.
val_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root, data_prefix='val'))
test_dataloader = val_dataloader
