"""configs/ade20k: every value of Table 5 (UPerNet fine-tuning on ADE20K) for each model."""
import pytest
import torch
from dense_table import (DEPTHS, WIDTH, check_adamw, check_backbone, check_total_batch, load,
                         no_weight_decay, param_groups, transform)
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

# Table 5: model -> arch, layer decay.
TABLE_5 = {'s': ('small', 0.95), 'b': ('base', 0.95), 'l': ('large', 0.9)}
# Rows of Table 5 that hold for every model.
WINDOW_SIZE = 20
CROP_SIZE = (640, 640)
TEST_SIZE = (640, 2560)  # short side 640, long side at most 2560
SLIDE_STRIDE = (426, 426)
ITERS, WARMUP_ITERS = 80_000, 750
BATCH_SIZE = 32
LR_RANGE = (1e-4, 3e-4)
DEFAULT_LR = 1e-4  # the default the configs document; the README says how to sweep
WEIGHT_DECAY, DROP_PATH = 0.05, 0.1
FLIP, SCALE_JITTER = 0.5, (0.5, 2.0)
NUM_CLASSES = 150


def config_of(model):
    return f'configs/ade20k/upernet_swinv2_{model}.py'


@pytest.mark.parametrize('model', sorted(TABLE_5))
def test_config_holds_every_table_5_value(model):
    arch, layer_decay = TABLE_5[model]
    cfg = load(config_of(model))
    assert cfg.default_scope == 'mmseg'
    # Windows are planned for the 640-px crops.
    check_backbone(cfg, arch=arch, img_size=CROP_SIZE[0], window_size=WINDOW_SIZE,
                   drop_path=DROP_PATH)

    # UPerNet over the four stages, with the auxiliary FCN head on stage 2; SyncBN heads.
    c = WIDTH[arch]
    assert cfg.model.type == 'EncoderDecoder'
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and aux.type == 'FCNHead'
    assert head.in_channels == [c, 2 * c, 4 * c, 8 * c] and head.in_index == [0, 1, 2, 3]
    assert aux.in_channels == 4 * c and aux.in_index == 2
    assert head.num_classes == aux.num_classes == NUM_CLASSES
    assert head.norm_cfg.type == aux.norm_cfg.type == 'SyncBN'

    # Training input: 640x640 crops of images jittered by [0.5, 2.0], flip, photometric
    # distortion; label 0 ("other") is ignored and classes 1..150 become 0..149.
    train_pipeline = cfg.train_dataloader.dataset.pipeline
    assert transform(train_pipeline, 'LoadAnnotations').reduce_zero_label
    resize = transform(train_pipeline, 'RandomResize')
    assert resize.scale == TEST_SIZE[::-1] and resize.keep_ratio
    assert resize.ratio_range == SCALE_JITTER
    assert transform(train_pipeline, 'RandomCrop').crop_size == CROP_SIZE
    assert transform(train_pipeline, 'RandomFlip').prob == FLIP
    transform(train_pipeline, 'PhotoMetricDistortion')
    assert cfg.model.data_preprocessor.size == CROP_SIZE

    # Test at (640, 2560) (mmseg writes (long, short)), in 640 windows with stride 426.
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        resize = transform(loader.dataset.pipeline, 'Resize')
        assert resize.scale == TEST_SIZE[::-1] and resize.keep_ratio
        assert transform(loader.dataset.pipeline, 'LoadAnnotations').reduce_zero_label
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=CROP_SIZE, stride=SLIDE_STRIDE)

    # 80k iterations: 750 linear warm-up iterations, then linear decay to 0.
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == ITERS
    warmup, decay = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and not warmup.by_epoch
    assert (warmup.begin, warmup.end) == (0, WARMUP_ITERS)
    assert decay.type == 'PolyLR' and not decay.by_epoch
    assert (decay.power, decay.eta_min) == (1.0, 0.0)
    assert (decay.begin, decay.end) == (WARMUP_ITERS, ITERS)

    assert LR_RANGE[0] <= cfg.optim_wrapper.optimizer.lr <= LR_RANGE[1]
    check_adamw(cfg, lr=DEFAULT_LR, weight_decay=WEIGHT_DECAY, layer_decay=layer_decay)
    check_total_batch(cfg, config_of(model), BATCH_SIZE)

    # ADEChallengeData2016 from data/ade/, mIoU.
    for loader, split in ((cfg.train_dataloader, 'training'),
                          (cfg.val_dataloader, 'validation')):
        dataset = loader.dataset
        assert dataset.type == 'ADE20KDataset'
        assert dataset.data_root == 'data/ade/ADEChallengeData2016'
        assert dataset.data_prefix == dict(img_path=f'images/{split}',
                                           seg_map_path=f'annotations/{split}')
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'IoUMetric' and evaluator.iou_metrics == ['mIoU']


@pytest.mark.parametrize('model', ['b', 'l'])
def test_lr_decays_layer_by_layer_with_the_table_5_rate(model):
    """The reference code: block j of stage i has id sum(depths[:i]) + j + 1, merging the id of its
    stage's last block, the patch embedding 0, the rest 25; lr = base * decay ** (25 - id)."""
    from mmseg.registry import MODELS
    _, decay = TABLE_5[model]
    groups = param_groups(load(config_of(model)), MODELS)

    def lr_of(layer_id):
        return DEFAULT_LR * decay ** (sum(DEPTHS) + 1 - layer_id)

    expected_ids = {
        'backbone.patch_embed.proj.weight': 0,
        'backbone.layers.0.blocks.0.attn.qkv.weight': 1,
        'backbone.layers.1.blocks.1.mlp.fc1.weight': 4,
        'backbone.layers.1.downsample.reduction.weight': 4,
        'backbone.layers.2.blocks.0.attn.cpb_mlp.0.weight': 5,
        'backbone.layers.2.blocks.17.norm2.weight': 22,
        'backbone.layers.2.downsample.norm.weight': 22,
        'backbone.layers.3.blocks.1.attn.logit_scale': 24,
        'backbone.norm.weight': 25,
        'backbone.out_norms.0.weight': 25,
        'decode_head.conv_seg.weight': 25,
        'auxiliary_head.convs.0.conv.weight': 25,
    }
    for name, layer_id in expected_ids.items():
        assert groups[name]['lr'] == pytest.approx(lr_of(layer_id), rel=1e-9), name
    for name, group in groups.items():
        expected = 0. if no_weight_decay(name, group['params'][0]) else WEIGHT_DECAY
        assert group['weight_decay'] == expected, name


def test_lr_warms_up_for_750_iterations_then_decays_linearly_to_zero():
    cfg = load(config_of('b'))
    optim_wrapper = OptimWrapper(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))],
                                                   lr=DEFAULT_LR))
    schedulers = [PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=optim_wrapper))
                  for s in cfg.param_scheduler]
    curve = []  # the lr each training iteration runs with
    for _ in range(ITERS):
        curve.append(optim_wrapper.optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()

    last_warmup = WARMUP_ITERS - 1
    assert curve[0] == pytest.approx(DEFAULT_LR * 1e-6)
    steps = [curve[it] - curve[it - 1] for it in range(1, WARMUP_ITERS)]
    assert min(steps) > 0 and max(steps) - min(steps) < 1e-6 * min(steps)  # linear
    assert curve[last_warmup] == curve[WARMUP_ITERS] == pytest.approx(DEFAULT_LR, rel=1e-9)
    decay_iters = ITERS - 1 - WARMUP_ITERS
    for it in (WARMUP_ITERS + 1, 20_000, 40_375, 79_000, ITERS - 2):
        expected = DEFAULT_LR * (ITERS - 1 - it) / decay_iters
        assert curve[it] == pytest.approx(expected, rel=1e-6), it
    assert abs(curve[-1]) < 1e-12
