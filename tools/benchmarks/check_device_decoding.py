"""The device's JPEG decoder where it is known to fail, next to the CPU's (GPU data path).

Three checks, in this order, the first step of ``gpu_check.sh`` on a GPU; with
``--device cpu`` they run on the CPU too (nothing to find there, the tests' setting)::

    python tools/benchmarks/check_device_decoding.py --device cuda
    python tools/benchmarks/check_device_decoding.py --device cpu --iterations 2 \
        --large-size 400 300 --large-count 2

- ``race``: torchvision's ``decode_jpeg`` on the device decodes on a stream of its own that
  does not wait for the caller's (pytorch/vision PR 9606). Each iteration fills tensors of
  the decoded images' size, queues a long matrix product and one sum per tensor on the
  caller's stream, frees the tensors while the sums are still queued, and decodes a batch:
  a sum that comes out wrong was overwritten by the decoder. Run without the guard
  (torchvision's call) and with it (``decode_jpegs``), the decoded images compared with
  libjpeg-turbo's on the CPU each time.
- ``memory``: peak device memory of the device part on a batch of large photographs
  (4000x3000 by default) against what one decode call holding every full image and a
  float32 copy of the largest crop would take.
- ``files`` (last, should a file bring the decoder down): what the decoder does with files
  that are corrupt but end with their end marker (scan data cut in half; a header counting
  more rows than the data holds), an RGB JPEG with and without its Adobe segment, and a
  motion photo (a video after the image), and what the GPU data path makes of each
  (decoded, named, or left to the worker).
"""
import argparse
import io
import os.path as osp
import sys
import tempfile
from typing import Dict

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
import PIL
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_data_pipeline import write_jpegs  # noqa: E402
from benchmark_device_decoding import (DEFAULT_CONFIG, device_label,  # noqa: E402
                                       device_preprocessor, pipelines)
from benchmark_utils import format_table, machine_summary, synchronize  # noqa: E402

from mim_scaling.datasets.transforms import UnreadableImageError  # noqa: E402
from mim_scaling.datasets.transforms.encoded_inputs import device_decodable  # noqa: E402
from mim_scaling.models.data_preprocessors.device_decode import decode_jpegs  # noqa: E402


def encoded(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def race(files, device, iterations: int, guarded: bool) -> Dict[str, float]:
    """Iterations whose queued sums came out wrong, and the largest difference of a decoded
    image to libjpeg-turbo's, over ``iterations`` decodes with training work queued."""
    device = torch.device(device)
    data = [encoded(f) for f in files]
    expected = [decode_jpeg(d, mode=ImageReadMode.RGB) for d in data]
    paths = [f'file {i}' for i in range(len(data))]
    side = 8192 if device.type == 'cuda' else 64  # about 20 ms a product on an H100
    matrix = torch.randn(side, side, device=device)
    corrupted, largest = 0, 0
    for _ in range(iterations):
        # Blocks of the decoded images' size, which the allocator hands the decoder once freed.
        tensors = [torch.full((image.numel() // 4, ), float(k + 1), device=device)
                   for k, image in enumerate(expected)]
        synchronize(device)
        for _ in range(4):
            product = matrix @ matrix
        sums = [t.sum() for t in tensors]
        del tensors, product
        if guarded:
            images = decode_jpegs(data, paths, device)[0]
        else:
            images = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
        synchronize(device)
        corrupted += any(s.item() != (k + 1) * (image.numel() // 4)
                         for k, (s, image) in enumerate(zip(sums, expected)))
        largest = max([largest] + [(i.cpu().int() - e.int()).abs().max().item()
                                   for i, e in zip(images, expected)])
    return dict(corrupted=corrupted, largest_difference=largest)


def rgb_jpeg(source: bytes, adobe: bool) -> bytes:
    """``source`` saved with its R, G and B stored as they are, with or without the Adobe
    segment that says so (libjpeg also reads the component names)."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(source)).save(buffer, 'JPEG', quality=90, keep_rgb=True)
    data = buffer.getvalue()
    if b'Adobe' not in data:  # an older Pillow ignores keep_rgb
        raise RuntimeError(f'Pillow {PIL.__version__} writes no RGB JPEG (keep_rgb)')
    if adobe:
        return data
    start = data.index(b'\xff\xee')
    return data[:start] + data[start + 2 + int.from_bytes(data[start + 2:start + 4], 'big'):]


def cut_scan_data(data: bytes) -> bytes:
    """The JPEG ``data`` with its scan data cut in half and the end marker put back: a file
    that ends as a complete one does, with half its pixels missing."""
    scan, end = data.index(b'\xff\xda'), data.rindex(b'\xff\xd9')
    return data[:scan + (end - scan) // 2] + b'\xff\xd9'


def taller_frame(data: bytes, rows: int) -> bytes:
    """The JPEG ``data`` with a frame header that counts ``rows`` rows (more than its data
    holds), everything else intact."""
    encoded = bytearray(data)
    frame = encoded.index(b'\xff\xc0')
    encoded[frame + 5:frame + 7] = rows.to_bytes(2, 'big')
    return bytes(encoded)


def kinds_of_file(source: bytes) -> Dict[str, bytes]:
    frame = source.index(b'\xff\xc0')
    height = int.from_bytes(source[frame + 5:frame + 7], 'big')
    return {
        'intact': source,
        'scan data cut in half': cut_scan_data(source),
        'header with 1.6x the rows': taller_frame(source, height * 8 // 5),
        'RGB with Adobe segment': rgb_jpeg(source, adobe=True),
        'RGB without Adobe segment': rgb_jpeg(source, adobe=False),
        'motion photo': source + b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 64,
    }


def files(config: str, folder: str, source: bytes, device) -> Dict[str, str]:
    """What the device's decoder and the GPU data path do with each kind of ``source``."""
    device = torch.device(device)
    intact = decode_jpeg(encoded(source), mode=ImageReadMode.RGB).int()
    _, worker = pipelines(config)
    preprocessor = device_preprocessor(config, device)
    rows, outcomes = [], {}
    for kind, data in kinds_of_file(source).items():
        try:
            image = decode_jpeg([encoded(data)], mode=ImageReadMode.RGB, device=device)[0]
            image = image.cpu().int()
            common = intact[:, :image.shape[1], :image.shape[2]]
            decoder = (f'{tuple(image.shape[1:])}, mean diff over the intact rows '
                       f'{(image[:, :common.shape[1]] - common).abs().float().mean():.2f}, '
                       f'last pixel {image[:, -1, -1].tolist()}')
        except RuntimeError as error:
            decoder = f'error: {str(error).splitlines()[0]}'
        path = osp.join(folder, kind.replace(' ', '_') + '.jpg')
        with open(path, 'wb') as file:
            file.write(data)
        why = device_decodable(path, data)[1]
        try:
            batch = pseudo_collate([worker(dict(img_path=path, sample_idx=0))])
            preprocessor(batch, True)
            outcome = f'decoded by the worker ({why})' if why else 'decoded on the device'
        except UnreadableImageError as error:
            outcome = f'named: {error.reason}'
        outcomes[kind] = outcome
        rows.append([kind, decoder, outcome])
    print(f'What {device_label(device)} makes of each kind of file:')
    print(format_table(['file', 'decode_jpeg on the device', 'GPU data path'], rows), flush=True)
    return outcomes


def memory(config: str, folder: str, device, count: int, size) -> Dict[str, int]:
    """Peak device memory of the device part on ``count`` photographs of ``size`` (w, h),
    next to one call holding every full image and a float32 copy of the largest crop."""
    device = torch.device(device)
    paths = write_jpegs(folder, count, size, 90)
    _, worker = pipelines(config)
    batch = pseudo_collate([worker(dict(img_path=p, sample_idx=i)) for i, p in enumerate(paths)])
    preprocessor = device_preprocessor(config, device)
    crops = [s.crop_box for s in batch['data_samples']]
    unbounded = 3 * size[0] * size[1] * count + max(12 * h * w for _, _, h, w in crops)
    if device.type != 'cuda':
        preprocessor(batch, True)
        print(f'peak memory: measured on CUDA devices only (unbounded: {unbounded / 2**20:.0f} '
              'MiB)', flush=True)
        return dict(unbounded=unbounded)
    preprocessor(batch, True)  # the decoder's own buffers, once
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    preprocessor(batch, True)
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - start
    print(f'Device part, {count} JPEGs of {size[0]}x{size[1]}: peak {peak / 2**20:.0f} MiB above '
          f'the start; all full images and the largest crop in float32 at once: '
          f'{unbounded / 2**20:.0f} MiB.', flush=True)
    return dict(peak=peak, unbounded=unbounded)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='a pre-training config')
    parser.add_argument('--checks', nargs='+', choices=['race', 'files', 'memory'],
                        default=['race', 'files', 'memory'])
    parser.add_argument('--iterations', type=int, default=200, help='race: decodes per run')
    parser.add_argument('--batch', type=int, default=8, help='race: files per decode')
    parser.add_argument('--large-size', type=int, nargs=2, default=(4000, 3000),
                        metavar=('W', 'H'))
    parser.add_argument('--large-count', type=int, default=8)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    init_default_scope('mmpretrain')
    print(machine_summary(args.device))
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(folder, args.batch, (500, 375), 90)
        source = open(paths[0], 'rb').read()  # before the memory check writes over it
        if 'race' in args.checks:
            data = [open(p, 'rb').read() for p in paths]
            rows = []
            for guarded in (False, True):
                name = 'with the guard' if guarded else "torchvision's call"
                results[name] = race(data, args.device, args.iterations, guarded)
                rows.append([name, f'{results[name]["corrupted"]} of {args.iterations}',
                             results[name]['largest_difference']])
            print(f'Decoding {args.batch} JPEGs on {device_label(args.device)} with a matrix '
                  'product and sums queued before:')
            print(format_table(['', 'iterations with a wrong sum',
                                'largest difference to libjpeg-turbo'], rows), flush=True)
        # Corrupt files last: should one bring the decoder down, the rest is printed.
        if 'memory' in args.checks:
            results['memory'] = memory(args.config, folder, args.device, args.large_count,
                                       args.large_size)
        if 'files' in args.checks:
            results['files'] = files(args.config, folder, source, args.device)
    return results


if __name__ == '__main__':
    main()
