"""iNaturalist 2018 fine-tuning configs run end to end: from a SimMIM checkpoint, then Accuracy.

The dataset is written as released (``train_val2018/<supercategory>/<id>/*.jpg`` with
``train2018.json`` / ``val2018.json`` listing all 8142 categories) and the configs are
shrunk only through ``--cfg-options``, as a user would.
"""
import json

import numpy as np
import pytest
from classification_pipeline_utils import (check_fine_tuning_run, classification_options,
                                           dumping_predictions, write_image)
from dense_pipeline_utils import TINY_ARCH, save_simmim_checkpoint, train

NUM_SPECIES = 8142


def write_split(root, name, samples, rng):
    """``samples``: (image id, supercategory, category id) per image."""
    images, annotations = [], []
    for image_id, supercategory, category_id in samples:
        file_name = f'train_val2018/{supercategory}/{category_id}/{image_id:032x}.jpg'
        write_image(root / file_name, rng)
        images.append(dict(id=image_id, file_name=file_name, width=80, height=60,
                           license=1, rights_holder='test'))
        annotations.append(dict(id=image_id, image_id=image_id, category_id=category_id))
    categories = [dict(id=i, name=f'species_{i}', supercategory='Plantae')
                  for i in range(NUM_SPECIES)]
    (root / name).write_text(json.dumps(dict(
        info=dict(year=2018), images=images, annotations=annotations,
        categories=categories, licenses=[])))


@pytest.fixture(scope='module')
def inat_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('inat2018')
    rng = np.random.default_rng(0)
    write_split(root, 'train2018.json', [(1, 'Plantae', 0), (2, 'Aves', 3021),
                                         (3, 'Insecta', 5377), (4, 'Fungi', 8141)], rng)
    write_split(root, 'val2018.json', [(5, 'Aves', 3021), (6, 'Fungi', 8141)], rng)
    return root


def test_inat2018_fine_tuning_trains_from_simmim_checkpoint_and_evaluates(inat_root, tmp_path):
    checkpoint = save_simmim_checkpoint(tmp_path / 'iter_10.pth')
    work_dir = tmp_path / 'work'
    train(dumping_predictions('configs/inat2018/swinv2-s_ft_inat2018.py', tmp_path), work_dir,
          classification_options(inat_root, checkpoint))
    trained = check_fine_tuning_run(work_dir, checkpoint, layer_decay=0.8)
    assert trained['head.fc.weight'].shape == (NUM_SPECIES, 8 * TINY_ARCH['embed_dims'])
