# ImageNet-22K for SimMIM pre-training at 192 px (Table 1): the training images only, no
# labels. The validation loss stays the one on ImageNet-1K val, as in the study's figures.
#
# Expected layout (mmpretrain's ImageNet21k), one folder per WordNet synset:
#
#   data/imagenet22k/
#   ├── train/n00004475/n00004475_15899.JPEG     (21841 synsets, about 14.2M images)
#   │   └── ...
#   └── meta/train.txt                           (optional, read when present)
#
# meta/train.txt lists one image per line, relative to train/ (n00004475/n00004475_15899.JPEG).
# Without it, every rank walks the 21841 folders at start-up, which takes minutes on a
# network file system; write it once with
#   (cd data/imagenet22k/train && find . -iname '*.jpeg' | sed 's|^\./||' | sort) \
#       > data/imagenet22k/meta/train.txt
# A list that also has labels ("<path> <label>", e.g. a fall11 or winter21 list made for
# classification) is read with
#   --cfg-options train_dataloader.dataset.with_label=True
# (SimMIM ignores the labels).
_base_ = ['./imagenet_simmim_192.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ImageNet21k',
        data_root='data/imagenet22k/',
        split='train',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))
