# ImageNet-1K for SimMIM pre-training at 192 px (Table 1), and ImageNet-1K val for the
# validation loss of the study's training-dynamics figures.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'

mask_generator = dict(
    type='mim_scaling.SimMIMMaskGenerator',
    input_size=192,
    mask_patch_size=32,
    model_patch_size=4,
    mask_ratio=0.6)

train_pipeline = [
    # Reads the file and crops it in one step: mmpretrain's RandomResizedCrop's crops with
    # the reference's resampling (Pillow's antialiased bilinear), JPEGs decoded at reduced
    # scale where the crop allows it; names any unreadable file.
    dict(
        type='mim_scaling.LoadImageRandomResizedCrop',
        scale=192,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='RandomFlip', prob=0.5),
    mask_generator,
    dict(type='PackInputs'),  # packs results['mask'] as a tensor by itself
]
# Deterministic: the same crops and, through the seeded generator, the same masks at every
# validation, so that validation losses of one run (and of different runs) compare.
val_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile'),  # names any unreadable file
    dict(type='ResizeEdge', scale=192, edge='short', backend='pillow',
         interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=192),
    dict(mask_generator, seed=0),
    dict(type='PackInputs'),  # packs results['mask'] as a tensor by itself
]

# 2048 images per iteration: 16 GPUs x 128 (see each config for larger models).
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    # SelfSupDataPreprocessor expects stacked tensors.
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=val_pipeline))
val_evaluator = dict(type='mim_scaling.ReconstructionLoss')

# tools/test.py computes the same loss: the ImageNet-1K validation loss of the model zoo's
# tables, e.g. for a released checkpoint converted by tools/model_converters/simmim2mmengine.py.
test_dataloader = val_dataloader
test_evaluator = val_evaluator
