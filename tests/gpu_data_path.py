"""The GPU data path next to the CPU pipeline, for its tests: both pipelines of a real
pre-training config (the demo's, which is Table 1's data setting), run on the same sample
under the per-sample seeding of training, and real photographs to run them on."""
import sys
from pathlib import Path

import numpy as np
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image
from skimage import data

from mim_scaling.engine.config.gpu_data_path import apply_decode_on_device
from mim_scaling.utils import seeded_random_states

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))
# JPEGs cut short that keep their end marker, as the GPU check makes them.
from check_device_decoding import cut_scan_data, taller_frame  # noqa: E402,F401

DEMO = ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py'


def configs():
    """(the demo config, the same with ``decode_on_device=True`` applied)."""
    cpu = Config.fromfile(DEMO)
    gpu = Config.fromfile(DEMO)
    gpu.decode_on_device = True
    apply_decode_on_device(gpu)
    return cpu, gpu


def pipelines():
    """(the CPU training pipeline, the GPU path's worker pipeline) of the demo config."""
    cpu, gpu = configs()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return (Compose(cpu.train_dataloader.dataset.pipeline),
                Compose(gpu.train_dataloader.dataset.pipeline))


def load(pipeline, path, key, **fields):
    """One sample through ``pipeline`` as a dataloader worker loads it: seeded by
    ``key`` = (seed, pass, index), as SampleSeededDataset does."""
    with seeded_random_states(key):
        return pipeline(dict(img_path=str(path), sample_idx=key[-1], **fields))


# (photograph, size (w, h), JPEG quality): colour photographs at ImageNet-like sizes and
# qualities, and one large enough for the CPU pipeline's reduced-scale decoding.
PHOTOS = [('astronaut', (500, 375), 90), ('coffee', (640, 427), 75), ('chelsea', (451, 300), 95),
          ('rocket', (333, 500), 85)]
LARGE = ('astronaut', (1600, 1200), 90)


def photograph(name, size):
    image = Image.fromarray(np.asarray(getattr(data, name)())[..., :3])
    return image.resize(size, Image.LANCZOS)


def write_photographs(folder: Path, photos=PHOTOS):
    """The photographs as JPEGs; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, size, quality in photos:
        paths.append(folder / f'{name}_{size[0]}x{size[1]}_q{quality}.jpg')
        photograph(name, size).save(paths[-1], quality=quality)
    return paths


def write_other_kinds(folder: Path):
    """{kind: path} of files the workers decode: greyscale, PNG, progressive and CMYK."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f'{kind}.{"png" if kind == "PNG" else "jpg"}'
             for kind in ('greyscale JPEG', 'PNG', 'progressive JPEG', 'CMYK JPEG')}
    Image.fromarray(data.camera()).resize((400, 300)).save(paths['greyscale JPEG'], quality=90)
    chelsea = photograph('chelsea', (400, 266))
    chelsea.save(paths['PNG'])
    chelsea.save(paths['progressive JPEG'], quality=90, progressive=True)
    chelsea.convert('CMYK').save(paths['CMYK JPEG'], quality=90)
    return paths


def corrupt_jpeg(path: Path, source: Path) -> Path:
    """A copy of the JPEG ``source`` whose frame header is intact but whose Huffman table
    (after it) is not: only decoding finds it."""
    encoded = bytearray(source.read_bytes())
    table = encoded.index(b'\xff\xc4', encoded.index(b'\xff\xc0'))  # the first DHT after SOF0
    encoded[table + 5:table + 21] = b'\xff' * 16  # code counts that no Huffman tree fits
    path.write_bytes(bytes(encoded))
    return path
