"""configs/inat2018: every value of Table 3 (iNaturalist 2018 fine-tuning) for each model."""
import pytest

from classification_table import check_lr_curve, check_table_row

# Table 3: model -> arch, layer decay; 100 epochs with 20 of warm-up for all.
TABLE_3 = {'s': ('small', 0.8), 'b': ('base', 0.75), 'l': ('large', 0.7)}
EPOCHS, WARMUP = 100, 20
LR, WEIGHT_DECAY = 1.6e-2, 0.1  # base lr at the total batch of 2048
NUM_SPECIES = 8142


@pytest.mark.parametrize('model', sorted(TABLE_3))
def test_config_holds_every_table_3_value(model):
    arch, decay = TABLE_3[model]
    cfg = check_table_row(f'configs/inat2018/swinv2-{model}_ft_inat2018.py', arch=arch,
                          epochs=EPOCHS, warmup_epochs=WARMUP, layer_decay=decay, lr=LR,
                          weight_decay=WEIGHT_DECAY, num_classes=NUM_SPECIES)
    for loader, ann_file in ((cfg.train_dataloader, 'train2018.json'),
                             (cfg.val_dataloader, 'val2018.json')):
        assert loader.dataset.type == 'mim_scaling.INaturalist2018'
        assert (loader.dataset.data_root, loader.dataset.ann_file) == ('data/inat2018', ann_file)


def test_lr_warms_up_linearly_then_follows_a_cosine_every_iteration():
    check_lr_curve('configs/inat2018/swinv2-b_ft_inat2018.py', lr=LR, epochs=EPOCHS,
                   warmup_epochs=WARMUP, layer_decay=0.75)
