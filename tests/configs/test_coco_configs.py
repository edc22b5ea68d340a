"""configs/coco: every value of Table 4 (Mask R-CNN fine-tuning on COCO) for each model."""
import pytest
from dense_table import (WIDTH, check_adamw, check_backbone, check_total_batch, load,
                         no_weight_decay, param_groups, transform)

# Table 4: model -> arch, stochastic depth.
TABLE_4 = {'s': ('small', 0.1), 'b': ('base', 0.1), 'l': ('large', 0.2)}
# Rows of Table 4 that hold for every model.
WINDOW_SIZE = 14
TRAIN_SIZE = (1024, 1024)
TEST_SIZE = (800, 1333)  # short side 800, long side at most 1333
EPOCHS, WARMUP_ITERS, STEP_EPOCHS, STEP_RATIO = 36, 500, [27, 33], 0.1
BATCH_SIZE = 32
LR, WEIGHT_DECAY = 8e-5, 0.05
FLIP, SCALE_JITTER = 0.5, (0.1, 2.0)


def config_of(model):
    return f'configs/coco/mask_rcnn_swinv2_{model}.py'


@pytest.mark.parametrize('model', sorted(TABLE_4))
def test_config_holds_every_table_4_value(model):
    arch, drop_path = TABLE_4[model]
    cfg = load(config_of(model))
    assert cfg.default_scope == 'mmdet'
    # Windows are planned for the 1024-px training crops.
    check_backbone(cfg, arch=arch, img_size=TRAIN_SIZE[0], window_size=WINDOW_SIZE,
                   drop_path=drop_path)

    # Mask R-CNN with FPN over the four stages.
    assert cfg.model.type == 'MaskRCNN'
    assert cfg.model.roi_head.mask_head.type == 'FCNMaskHead'
    c = WIDTH[arch]
    assert cfg.model.neck.type == 'FPN'
    assert cfg.model.neck.in_channels == [c, 2 * c, 4 * c, 8 * c]

    # Training input: large-scale jitter of 1024x1024 crops, padded to 1024x1024.
    train_pipeline = cfg.train_dataloader.dataset.pipeline
    assert transform(train_pipeline, 'LoadAnnotations').with_mask
    resize = transform(train_pipeline, 'RandomResize')
    assert resize.scale == TRAIN_SIZE and resize.keep_ratio
    assert resize.ratio_range == SCALE_JITTER
    crop = transform(train_pipeline, 'RandomCrop')
    assert (crop.crop_type, crop.crop_size) == ('absolute_range', TRAIN_SIZE)
    assert crop.recompute_bbox
    transform(train_pipeline, 'FilterAnnotations')
    assert transform(train_pipeline, 'RandomFlip').prob == FLIP
    assert cfg.model.data_preprocessor.batch_augments == [
        dict(type='BatchFixedSizePad', size=TRAIN_SIZE, pad_mask=True)]

    # Test input (800, 1333): mmdet writes the scale as (long, short) with keep_ratio.
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        resize = transform(loader.dataset.pipeline, 'Resize')
        assert resize.scale == TEST_SIZE[::-1] and resize.keep_ratio

    # 36 epochs; 500 linear warm-up iterations; x0.1 at epochs 27 and 33.
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == EPOCHS
    warmup, step = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and not warmup.by_epoch
    assert (warmup.begin, warmup.end) == (0, WARMUP_ITERS)
    assert step.type == 'MultiStepLR' and step.by_epoch
    assert (step.begin, step.end) == (0, EPOCHS)
    assert step.milestones == STEP_EPOCHS and step.gamma == STEP_RATIO

    # AdamW without layer decay (Table 4 has none).
    check_adamw(cfg, lr=LR, weight_decay=WEIGHT_DECAY, layer_decay=1.0)
    check_total_batch(cfg, config_of(model), BATCH_SIZE)

    # COCO 2017 from data/coco/, box and mask AP.
    for loader, split in ((cfg.train_dataloader, 'train2017'), (cfg.val_dataloader, 'val2017')):
        dataset = loader.dataset
        assert dataset.type == 'CocoDataset' and dataset.data_root == 'data/coco/'
        assert dataset.ann_file == f'annotations/instances_{split}.json'
        assert dataset.data_prefix == dict(img=f'{split}/')
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'CocoMetric'
        assert evaluator.metric == ['bbox', 'segm']
        assert evaluator.ann_file == 'data/coco/annotations/instances_val2017.json'


def test_every_parameter_learns_at_the_base_lr_and_only_matrices_decay():
    """No layer decay; no weight decay on norms, biases, cpb_mlp, logit_scale (reference)."""
    from mmdet.registry import MODELS
    groups = param_groups(load(config_of('b')), MODELS)
    for name, group in groups.items():
        assert group['lr'] == LR, name
        expected = 0. if no_weight_decay(name, group['params'][0]) else WEIGHT_DECAY
        assert group['weight_decay'] == expected, name
    # A few by name, so that the rule above is seen to cover each kind.
    for name in ('backbone.layers.2.blocks.17.attn.q_bias',
                 'backbone.layers.2.blocks.17.norm1.weight',
                 'backbone.layers.0.blocks.0.attn.logit_scale',
                 'backbone.layers.0.blocks.0.attn.cpb_mlp.0.weight', 'backbone.out_norms.0.bias',
                 'neck.lateral_convs.0.conv.bias', 'roi_head.bbox_head.fc_cls.bias'):
        assert groups[name]['weight_decay'] == 0., name
    for name in ('backbone.layers.0.blocks.0.attn.qkv.weight', 'backbone.patch_embed.proj.weight',
                 'backbone.layers.1.downsample.reduction.weight', 'neck.fpn_convs.0.conv.weight',
                 'roi_head.mask_head.convs.0.conv.weight'):
        assert groups[name]['weight_decay'] == WEIGHT_DECAY, name
