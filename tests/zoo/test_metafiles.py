"""The OpenMMLab metafiles list all 126 released checkpoints with the zoo table's figures,
their download address on the authors' hub and a config that exists."""
from pathlib import Path

import pytest
import yaml

from mim_scaling.zoo import DATA_NAMES, load_zoo
from tool_scripts import load_tool

ROOT = Path(__file__).parents[2]
# The authors' Hugging Face repository, as microsoft/Swin-Transformer's MODELHUB.md links it.
HUB = 'https://huggingface.co/zdaxie/SimMIM/resolve/main'


def read(path):
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)  # libyaml's, where built
    return yaml.load((ROOT / path).read_text(), Loader=loader)


@pytest.fixture(scope='module')
def metafiles():
    return {path: read(path) for path in read('model-index.yml')['Import']}


@pytest.fixture(scope='module')
def models(metafiles):
    named = {}
    for metafile in metafiles.values():
        for model in metafile['Models']:
            assert model['Name'] not in named, f'{model["Name"]} listed twice'
            named[model['Name']] = model
    return named


def test_index_imports_a_metafile_per_config_folder(metafiles):
    assert sorted(metafiles) == ['configs/imagenet/metafile.yml', 'configs/pretrain/metafile.yml']
    for metafile in metafiles.values():
        collections = {c['Name'] for c in metafile['Collections']}
        assert all(m['In Collection'] in collections for m in metafile['Models'])


def test_every_row_of_the_zoo_is_there_with_its_published_figures(models):
    zoo = load_zoo()
    assert len(models) == 2 * len(zoo) == 126
    for e in zoo:
        pretrained, finetuned = models[e.name], models[e.finetuned_name]
        assert pretrained['Results'][0]['Metrics'] == {'Validation Loss': e.val_loss}
        assert finetuned['Results'][0]['Metrics'] == {'Top 1 Accuracy': e.top1}
        assert pretrained['Metadata']['Iterations'] == e.iters
        assert pretrained['Metadata']['Training Data'] == DATA_NAMES[e.data][0]
        assert pretrained['Metadata']['Backbone Parameters'] == e.backbone_params
        assert finetuned['Metadata']['Pre-trained'] == e.name
        assert pretrained['Weights'] == \
            f'{HUB}/simmim_swinv2_pretrain_models/{e.pretrained_checkpoint}'
        assert finetuned['Weights'] == \
            f'{HUB}/simmim_swinv2_finetune_models/{e.finetuned_checkpoint}'
        assert pretrained['Config'] == e.pretrain_config
        assert finetuned['Config'] == e.finetune_config


def test_every_config_exists(models):
    missing = sorted({m['Config'] for m in models.values() if not (ROOT / m['Config']).is_file()})
    assert not missing, f'{len(missing)} configs missing: {missing}'


def test_metafiles_are_generated_from_the_current_table():
    # Exits with the stale files' names otherwise.
    load_tool('model_zoo/make_metafiles.py').main(['--check'])
