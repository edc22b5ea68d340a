"""Images/s per dataloader worker of the SimMIM pre-training pipeline, ours against mmpretrain's.

Writes ImageNet-like JPEGs (scikit-image's colour photographs, cropped and resized to
``--size``, saved at ``--quality``), then runs every file through each pipeline in turns
(:func:`benchmark_utils.time_interleaved`) in one process with one torch thread and
OpenCV's own threads off, as in a dataloader worker::

    python tools/benchmarks/benchmark_data_pipeline.py --size 500 375 --quality 90
    python tools/benchmarks/benchmark_data_pipeline.py --fidelity --size 1600 1200

Pipelines (decode, random resized crop to 192 px, flip, SimMIM mask, packing; the
normalisation runs later, batched, in both models' ``SelfSupDataPreprocessor``):

- ``mmpretrain SimMIM``: the train pipeline of mmpretrain's own SimMIM config (OpenCV
  decoding and bilinear resizing, which aliases when it shrinks);
- ``Pillow resize``: full decoding and Pillow's antialiased bilinear resizing with mmcv's
  transforms, as this project's configs did before ``LoadImageRandomResizedCrop``;
- ``mim_scaling``: the train pipeline of configs/_base_/datasets/imagenet_simmim_192.py;
- ``decode only``: reading and decoding every file and nothing else, at full size (OpenCV)
  and at 1/8 scale (libjpeg-turbo's cheapest decoding, little but its entropy decoding):
  upper bounds for any pipeline that decodes whole files, at full or reduced scale.

``--fidelity`` compares the 192-px crops with the reference's (Pillow decoding the whole
file, Pillow's antialiased bilinear resize of the crop): ours, ours without reduced-scale
decoding, mmpretrain's OpenCV resize, Pillow's own shortcut (``Image.draft`` and
``resize(reducing_gap=2.0)``, what ``Image.thumbnail`` does), and decoding every file at
half scale whatever the crop (which upsamples crops that keep less than twice the output).
"""
import argparse
import os.path as osp
import tempfile

import cv2
import mmpretrain
import numpy as np
import simplejpeg
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from benchmark_utils import Result, format_table, machine_summary, print_results, time_interleaved

from mim_scaling.datasets.transforms import LoadImageRandomResizedCrop  # registers it too
from mim_scaling.datasets.transforms.load_random_resized_crop import (decode_jpeg,
                                                                      random_crop_box,
                                                                      resize_reduced)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OUR_DATASET = osp.join(REPO, 'configs', '_base_', 'datasets', 'imagenet_simmim_192.py')
# mmpretrain's own SimMIM config (its configs ship inside the package).
MMPRETRAIN_SIMMIM = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'simmim',
                             'simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py')
PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'immunohistochemistry', 'retina',
          'hubble_deep_field', 'colorwheel')


def grain(rng, height, width, strength):
    """Fine texture with a 1/sqrt(f) spectrum, of standard deviation ``strength``."""
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None]
    falloff = np.maximum(np.hypot(fy, fx), 1. / max(height, width))**-0.5
    spectrum = rng.normal(size=falloff.shape + (3, )) + 1j * rng.normal(size=falloff.shape + (3, ))
    texture = np.fft.irfft2(spectrum * falloff[..., None], s=(height, width), axes=(0, 1))
    return texture * (strength / texture.std())


def write_jpegs(directory, count, size, quality, grain_strength=20., seed=0):
    """``count`` JPEGs of ``size`` (w, h): random crops of scikit-image's colour photos.

    The photos are enlarged to cover the size, which smooths them; ``grain_strength`` grey
    levels of fine texture restore detail, and with it the JPEG's size and decoding cost
    (about 100 KiB at 500x375 and quality 90, as ImageNet's photos of that size).
    """
    from skimage import data
    rng = np.random.default_rng(seed)
    photos = [np.asarray(getattr(data, name)())[..., :3] for name in PHOTOS]
    width, height = size
    paths = []
    for i in range(count):
        photo = Image.fromarray(photos[i % len(photos)])
        # Cover the output at a random zoom, then take a random window of it.
        zoom = max(width / photo.width, height / photo.height) * rng.uniform(1.0, 1.5)
        photo = photo.resize((max(width, round(photo.width * zoom)),
                              max(height, round(photo.height * zoom))), Image.LANCZOS)
        left = rng.integers(0, photo.width - width + 1)
        top = rng.integers(0, photo.height - height + 1)
        photo = photo.crop((left, top, left + width, top + height))
        if rng.random() < 0.5:
            photo = photo.transpose(Image.FLIP_LEFT_RIGHT)
        pixels = np.asarray(photo, np.float64) + grain(rng, height, width, grain_strength)
        paths.append(osp.join(directory, f'{i:04d}.jpg'))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(paths[-1],
                                                                       quality=quality)
    return paths


def pipelines():
    ours = Config.fromfile(OUR_DATASET).train_pipeline
    theirs = Config.fromfile(MMPRETRAIN_SIMMIM).train_dataloader.dataset.pipeline
    crop = ours[0]
    pillow = [dict(type='mim_scaling.LoadImageFromFile'),
              dict(type='RandomResizedCrop', scale=crop.scale,
                   crop_ratio_range=crop.crop_ratio_range,
                   aspect_ratio_range=crop.aspect_ratio_range, backend='pillow',
                   interpolation='bilinear')] + ours[1:]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return {'mmpretrain SimMIM': Compose(theirs), 'Pillow resize': Compose(pillow),
                'mim_scaling': Compose(ours)}


def run_all(pipeline, paths):
    def run():
        for i, path in enumerate(paths):
            pipeline(dict(img_path=path, sample_idx=i))
    return run


def decode_only(paths):
    """A bound for every pipeline that decodes whole files: reading and decoding alone."""
    def run():
        for path in paths:
            with open(path, 'rb') as f:
                cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    return run


def read_reduced(path, reduction, colorspace='BGR'):
    """The JPEG at ``path`` decoded at ``1 / reduction`` scale, and its full (height, width)."""
    with open(path, 'rb') as f:
        data = f.read()
    height, width = simplejpeg.decode_jpeg_header(data)[:2]
    return decode_jpeg(path, data, height, width, reduction, colorspace), (height, width)


def entropy_decode_only(paths):
    """A bound for every pipeline that reads whole JPEG files, even at reduced scale: decoding
    at 1/8 scale, which leaves libjpeg-turbo little but the entropy decoding that no DCT
    scaling skips (one coefficient per block, a 1x1 inverse DCT, 1/64 of the pixels)."""
    def run():
        for path in paths:
            read_reduced(path, 8)
    return run


def speed(paths, repeats):
    np.random.seed(0)
    fns = {name: run_all(p, paths) for name, p in pipelines().items()}
    fns['decode only (OpenCV, full size)'] = decode_only(paths)
    fns['decode only (1/8 scale)'] = entropy_decode_only(paths)
    results = time_interleaved(fns, repeats=repeats, warmup=1)
    rows = [Result(name, seconds, items=len(paths)) for name, seconds in results.items()]
    print_results(rows, reference='mmpretrain SimMIM')


def reference_crop(path, box, size):
    top, left, h, w = box
    with Image.open(path) as image:
        image = image.convert('RGB')
        return np.asarray(image.resize(size, Image.BILINEAR, box=(left, top, left + w, top + h)))


def fidelity(paths, draws=4):
    """Mean absolute difference and PSNR of each method's crops to the reference's."""
    spec = dict(crop_ratio_range=(0.67, 1.0), aspect_ratio_range=(3. / 4., 4. / 3.))
    size = (192, 192)
    ours = LoadImageRandomResizedCrop(192, **spec)
    exact = LoadImageRandomResizedCrop(192, reducing_gap=None, **spec)

    def pillow_shortcut(path, box):  # Image.thumbnail's recipe: draft, then reducing_gap
        top, left, h, w = box
        with Image.open(path) as image:
            full_w, full_h = image.size
            image.draft('RGB', (int(full_w * size[0] * 2 / w), int(full_h * size[1] * 2 / h)))
            sx, sy = image.width / full_w, image.height / full_h
            return np.asarray(image.convert('RGB').resize(
                size, Image.BILINEAR, box=(left * sx, top * sy, (left + w) * sx,
                                           (top + h) * sy), reducing_gap=2.0))

    def half_scale(path, box):  # every file at half scale: upsamples the crop at 500x375
        half, full_size = read_reduced(path, 2, 'RGB')
        return resize_reduced(half, box, full_size, size)[..., ::-1]

    def opencv(path, box):
        top, left, h, w = box
        img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        return cv2.resize(img[top:top + h, left:left + w], size,
                          interpolation=cv2.INTER_LINEAR)[..., ::-1]

    def transform(t):
        def run(path, box, seed):
            np.random.seed(seed)
            return t(dict(img_path=path))['img'][..., ::-1]
        return run

    methods = {'mim_scaling (DCT scaling, gap 2)': transform(ours),
               'mim_scaling, full-size decoding': transform(exact),
               'Pillow draft + reducing_gap=2.0': lambda p, b, s: pillow_shortcut(p, b),
               'half-scale decoding, always': lambda p, b, s: half_scale(p, b),
               'mmpretrain (OpenCV bilinear)': lambda p, b, s: opencv(p, b)}
    errors = {name: [] for name in methods}
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            width, height = image.size
        for draw in range(draws):
            seed = i * draws + draw
            np.random.seed(seed)
            box = random_crop_box(height, width, **spec)
            expected = reference_crop(path, box, size).astype(np.float64)
            for name, method in methods.items():
                errors[name].append(np.abs(method(path, box, seed) - expected))
    rows = []
    for name, diffs in errors.items():
        diffs = np.stack(diffs)
        mse = (diffs**2).mean()
        psnr = 10 * np.log10(255**2 / mse) if mse else float('inf')
        rows.append([name, f'{diffs.mean():.3f}', f'{psnr:.1f}',
                     f'{np.percentile(diffs, 99.9):.0f}'])
    print(format_table(['method vs Pillow full decode + BILINEAR', 'mean |diff|',
                        'PSNR dB', '99.9th pct |diff|'], rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--size', type=int, nargs=2, default=(500, 375), metavar=('W', 'H'))
    parser.add_argument('--quality', type=int, default=90)
    parser.add_argument('--grain', type=float, default=20.,
                        help='grey levels of fine texture added to the enlarged photos')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--fidelity', action='store_true',
                        help='compare crops with the reference resampling instead of timing')
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a dataloader worker
    cv2.setNumThreads(0)      # mmengine's default mp_cfg.opencv_num_threads
    print(machine_summary())
    with tempfile.TemporaryDirectory() as directory:
        paths = write_jpegs(directory, args.num_images, args.size, args.quality, args.grain)
        mean_kb = np.mean([osp.getsize(p) for p in paths]) / 1024
        print(f'{len(paths)} JPEGs of {args.size[0]}x{args.size[1]} px, quality '
              f'{args.quality}, {mean_kb:.0f} KiB on average', flush=True)
        if args.fidelity:
            fidelity(paths)
        else:
            speed(paths, args.repeats)


if __name__ == '__main__':
    main()
