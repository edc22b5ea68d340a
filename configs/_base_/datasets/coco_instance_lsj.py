# COCO instance segmentation with large-scale jitter: 1024x1024 crops of images resized by
# [0.1, 2.0] of 1024, flip 0.5; tested at (800, 1333). The crops are padded to 1024x1024 by
# the model's data preprocessor (BatchFixedSizePad), as in mmdet's LSJ Mask R-CNN configs.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

image_size = (1024, 1024)
backend_args = None

train_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# mmdet's test pipeline, with the loader that names any unreadable file.
test_pipeline = [
    dict(type='mim_scaling.LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
# Every crop has the same size, so batching by aspect ratio gains nothing.
train_dataloader = dict(batch_sampler=None, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
