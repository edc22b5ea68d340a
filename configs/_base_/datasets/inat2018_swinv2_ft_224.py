# iNaturalist 2018 fine-tuning data of Table 3: the ImageNet-1K pipelines of Table 2 on the
# released annotation files (train2018.json / val2018.json, 8142 species).
_base_ = ['./imagenet_swinv2_ft_224.py']

dataset_type = 'mim_scaling.INaturalist2018'
data_root = 'data/inat2018'
data_preprocessor = dict(num_classes=8142)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='train2018.json',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='val2018.json',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
