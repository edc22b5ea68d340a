"""configs/imagenet: every value of Table 2 (ImageNet-1K fine-tuning) for each model."""
import pytest

from classification_table import check_lr_curve, check_table_row

# Table 2: model -> arch, training epochs, warm-up epochs, layer decay.
TABLE_2 = {
    's': ('small', 100, 20, 0.8),
    'b': ('base', 100, 20, 0.75),
    'l': ('large', 100, 20, 0.7),
    'h': ('huge', 50, 10, 0.65),
    'g': ('giant', 50, 10, 0.65),
}
LR, WEIGHT_DECAY = 5e-3, 0.05  # base lr at the total batch of 2048


@pytest.mark.parametrize('model', sorted(TABLE_2))
def test_config_holds_every_table_2_value(model):
    arch, epochs, warmup, decay = TABLE_2[model]
    cfg = check_table_row(f'configs/imagenet/swinv2-{model}_ft_in1k.py', arch=arch,
                          epochs=epochs, warmup_epochs=warmup, layer_decay=decay, lr=LR,
                          weight_decay=WEIGHT_DECAY, num_classes=1000)
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val')):
        assert loader.dataset.type == 'ImageNet'
        assert (loader.dataset.data_root, loader.dataset.split) == ('data/imagenet', split)


@pytest.mark.parametrize('model', ['b', 'g'])
def test_lr_warms_up_linearly_then_follows_a_cosine_every_iteration(model):
    arch, epochs, warmup, decay = TABLE_2[model]
    check_lr_curve(f'configs/imagenet/swinv2-{model}_ft_in1k.py', lr=LR, epochs=epochs,
                   warmup_epochs=warmup, layer_decay=decay)
