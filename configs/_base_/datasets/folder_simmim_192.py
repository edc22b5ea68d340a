# Your own unlabelled images for SimMIM at 192 px: any tree of image files under
# data_root/train (mmpretrain's CustomDataset without labels), and a few held out under
# data_root/val for the validation loss. Crops, masks and normalisation as for ImageNet.
_base_ = './imagenet_simmim_192.py'

data_root = 'data/my_images/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        with_label=False,
        pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
