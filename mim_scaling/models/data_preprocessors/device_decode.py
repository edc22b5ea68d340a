"""The device's part of the GPU data path: decode, crop, resize, flip and normalise a batch.

Decoding is torchvision's ``decode_jpeg`` (nvJPEG on a GPU, libjpeg-turbo on the CPU), which
torchvision 0.29 deprecates in favour of TorchCodec's decoders but still ships.
"""
import logging
import re
from typing import List, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from torchvision.io import ImageReadMode, decode_jpeg

from mim_scaling.datasets.transforms.encoded_inputs import jpeg_frame
from mim_scaling.datasets.transforms.image_errors import UnreadableImageError
from mim_scaling.datasets.transforms.load_random_resized_crop import \
    decode_jpeg as decode_jpeg_strictly
from mim_scaling.registry import MODELS

__all__ = ['DeviceDecodeDataPreprocessor', 'decode_jpegs', 'resized_crop']

REFUSED = 'refused by the device decoder'
# Pixels decoded per call at most (805 MB of RGB): an ImageNet batch is one call, a batch of
# 4000x3000 photographs a few, each freed once cropped.
DECODE_PIXELS = 1 << 28
# Crops larger than this are resized in strips of rows, so that no more of the crop than
# this is float32 at once (a whole 4000x3000 crop would take 144 MB).
STRIP_PIXELS = 1 << 20
# The colour of image data that is missing: every decoder turns the zero coefficients it
# puts there into mid-grey, in each RGB channel.
GREY_FILL = 128
# torchvision re-raises what its decoder throws as a plain RuntimeError (the caching
# allocator's out-of-memory error keeps only its message); nvJPEG reports a failed
# allocation as status 5, NVJPEG_STATUS_ALLOCATOR_FAILURE.
_OUT_OF_MEMORY = re.compile(r'out of memory|Failed to [\w ]+: 5$')


def _raise_if_out_of_memory(error: RuntimeError) -> None:
    """Raises ``torch.OutOfMemoryError`` for an ``error`` that is one: the memory's fault,
    never the file's."""
    if isinstance(error, torch.OutOfMemoryError):
        raise error
    first_line = str(error).splitlines()[0] if str(error) else ''
    if _OUT_OF_MEMORY.search(first_line):
        raise torch.OutOfMemoryError(f'{first_line} (in the device JPEG decoder)') from error


def _decode_on_device(data: List[torch.Tensor], device: torch.device) -> List[torch.Tensor]:
    if device.type == 'cuda':
        # torchvision's decoder writes on a stream of its own that does not wait for the
        # caller's: the caching allocator can hand it a block that kernels queued on the
        # caller's stream still read, which nvJPEG then overwrites (pytorch/vision PR 9606:
        # 134 of 200 iterations corrupted on an H100). Draining the caller's stream first
        # costs next to nothing: the decode waits for the device anyway, and mmengine's loop
        # has already waited for the step before (it reads the loss). torchvision 0.29.1,
        # the version set up here, has no such wait (PR 9606 was closed unmerged); drop this
        # once a torchvision that orders its decoder after the caller's stream is required.
        torch.cuda.current_stream(device).synchronize()
    return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)


def _decode_on_cpu(encoded: torch.Tensor, path: str, device: torch.device) -> torch.Tensor:
    """The file decoded as the CPU pipeline decodes it (libjpeg-turbo, corrupt data an
    error), moved to ``device``; raises :class:`UnreadableImageError`."""
    data = encoded.numpy().tobytes()
    height, width = jpeg_frame(path, data)[:2]
    rgb = decode_jpeg_strictly(path, data, height, width, colorspace='RGB')
    return torch.from_numpy(rgb).permute(2, 0, 1).to(device)


def decode_jpegs(data: Sequence[torch.Tensor], paths: Sequence[str],
                 device: Union[str, torch.device], refused: Optional[Set[str]] = None
                 ) -> Tuple[List[Optional[torch.Tensor]], List[str]]:
    """Decodes encoded JPEGs (1-D uint8 CPU tensors) to (3, H, W) uint8 RGB on ``device``.

    Batched calls of ``torchvision.io.decode_jpeg`` (nvJPEG on a CUDA device): a call that
    fails is split in halves, each decoded batched again, down to the files at fault. A
    file the device's decoder refuses is decoded on the CPU as the CPU pipeline decodes it
    and moved, and its path is added to ``refused``, whose files go to the CPU at once.
    Returns the images (None for a file no decoder reads) and, for each file, '' or why it
    was not decoded on the device (:data:`REFUSED`) or at all. Out of memory is raised as
    ``torch.OutOfMemoryError``, whichever decoder or copy runs out.
    """
    device = torch.device(device)
    refused = set() if refused is None else refused
    images: List[Optional[torch.Tensor]] = [None] * len(data)
    notes = [''] * len(data)

    def on_cpu(i: int) -> None:
        try:
            images[i], notes[i] = _decode_on_cpu(data[i], paths[i], device), REFUSED
        except UnreadableImageError as error:
            notes[i] = error.reason

    def on_device(indices: List[int]) -> None:
        try:
            decoded = _decode_on_device([data[i] for i in indices], device)
        except RuntimeError as error:
            _raise_if_out_of_memory(error)
            if len(indices) > 1:  # the rest of the batch is not at fault: halve it
                on_device(indices[:len(indices) // 2])
                on_device(indices[len(indices) // 2:])
            elif device.type == 'cpu':  # libjpeg-turbo refused it: nothing else would read it
                notes[indices[0]] = f'corrupt JPEG data ({str(error).splitlines()[0]})'
            else:
                refused.add(paths[indices[0]])
                on_cpu(indices[0])
            return
        for i, image in zip(indices, decoded):
            images[i] = image

    remaining = []
    for i in range(len(data)):
        if device.type != 'cpu' and paths[i] in refused:
            on_cpu(i)
        else:
            remaining.append(i)
    if remaining:
        on_device(remaining)
    return images, notes


def resized_crop(image: torch.Tensor, box: Sequence[int], size: Tuple[int, int]
                 ) -> torch.Tensor:
    """The crop ``box`` (top, left, height, width) of a (3, H, W) uint8 image, resized to
    ``size`` by antialiased bilinear interpolation: (3, h, w) float32, 0-255.

    A crop of more than :data:`STRIP_PIXELS` is made float32 a strip of rows at a time: the
    horizontal pass of the separable filter strip by strip, then the vertical pass, the
    order PyTorch's kernel takes (a pass that keeps a size is exact), so the result is that
    of one call on the whole crop.
    """
    top, left, height, width = box
    crop = image[None, :, top:top + height, left:left + width]
    if height * width <= STRIP_PIXELS:
        return _resize(crop.float(), size)[0]
    rows = max(1, STRIP_PIXELS // width)
    narrowed = torch.cat([_resize(crop[:, :, r:r + rows].float(),
                                  (min(rows, height - r), size[1]))
                          for r in range(0, height, rows)], dim=2)
    return _resize(narrowed, size)[0]


def _resize(images: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    # The triangle filter of Pillow's and the CPU pipeline's bilinear resize.
    return F.interpolate(images, size, mode='bilinear', align_corners=False, antialias=True)


def _chunks(indices: List[int], sizes: List[Tuple[int, int]]) -> List[List[int]]:
    """``indices`` in runs of at most :data:`DECODE_PIXELS` pixels (at least one file)."""
    chunks, pixels = [], DECODE_PIXELS
    for i, (height, width) in zip(indices, sizes):
        if pixels + height * width > DECODE_PIXELS:
            chunks.append([])
            pixels = 0
        chunks[-1].append(i)
        pixels += height * width
    return chunks


@MODELS.register_module()
class DeviceDecodeDataPreprocessor(SelfSupDataPreprocessor):
    """mmpretrain's ``SelfSupDataPreprocessor`` that also takes the GPU data path's batches.

    A training batch of ``mim_scaling.PackEncodedInputs`` samples (collated by
    ``pseudo_collate``) holds, per sample, the encoded JPEG and its ``crop_box``, or a crop
    that the dataloader worker decoded (``decoded_on_cpu`` says why). On the model's device
    the JPEGs are decoded in batched calls (:func:`decode_jpegs`: nvJPEG on a GPU,
    libjpeg-turbo on the CPU; at most :data:`DECODE_PIXELS` per call, each full image freed
    once cropped), each crop is cut out and resized to the sample's ``img_shape`` by
    antialiased bilinear interpolation in float32 (the triangle filter of Pillow's and the
    CPU pipeline's resize; :func:`resized_crop`), the flipped samples are flipped, and the
    batch is normalised as ``SelfSupDataPreprocessor`` does (RGB when ``to_rgb``). Any other
    batch (validation, the CPU pipeline) is ``SelfSupDataPreprocessor``'s.

    Images decoded on the CPU (by the workers, or here when the device's decoder refuses
    a file, which is then decoded on the CPU whenever it is drawn again) are counted in the
    log as ``decoded_on_cpu`` (per batch of this process), and each reason is named once in
    a warning. Corrupt data is found as the CPU pipeline finds it: an image whose decoded
    size is not its header's, or whose last pixel is the mid-grey that decoders put where
    data is missing, is decoded again on the CPU as the CPU pipeline decodes it (corrupt
    data an error). A file that no decoder reads raises
    :class:`~mim_scaling.datasets.transforms.UnreadableImageError` naming it; with
    ``skip_unreadable=True`` (set by ``skip_unreadable_images=True``) its sample takes the
    image of another sample of the batch instead, and the file is reported to
    :class:`~mim_scaling.engine.hooks.UnreadableImagesHook` (:meth:`new_reports`).

    Args:
        skip_unreadable (bool): Replace unreadable samples instead of stopping.
            Defaults to False.
        **kwargs: The arguments of ``SelfSupDataPreprocessor`` (mean, std, to_rgb, ...).
    """

    def __init__(self, skip_unreadable: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_unreadable = skip_unreadable
        self._reports: List[Tuple[str, str]] = []
        self._reasons_named = set()
        self._refused: Set[str] = set()  # paths the device's decoder refused

    def forward(self, data: dict, training: bool = False) -> dict:
        if not isinstance(data['inputs'], list):  # stacked: the CPU pipeline's batch
            return super().forward(data, training)
        return self._decode_batch(data, training)

    @torch.compiler.disable  # decoding and per-image resizing: nothing for dynamo to trace
    def _decode_batch(self, data: dict, training: bool) -> dict:
        inputs, samples = data['inputs'], data['data_samples']
        if not (samples and ('crop_box' in samples[0] or 'decoded_on_cpu' in samples[0])):
            return super().forward(data, training)  # lists of views (multi-view algorithms)
        images, unreadable, cpu_reasons = self._images(inputs, samples)
        replacements = self._replacements(unreadable, images, samples)
        for i, j in replacements.items():
            images[i] = images[j]
        self._count_cpu_decoded(cpu_reasons)

        batch = torch.stack(images)
        flipped = [i for i, s in enumerate(samples) if s.get('flip', False)]
        if flipped:
            batch[flipped] = batch[flipped].flip(-1)
        if replacements:  # the very sample that stands in, flipped as it is
            batch[list(replacements)] = batch[list(replacements.values())]
        if self._enable_normalize:
            batch = (batch - self.mean) / self.std
        return {'inputs': batch, 'data_samples': self.cast_data(samples)}

    def _images(self, inputs: List[torch.Tensor], samples: list):
        """Each sample's resized crop on the device (float32, 0-255, in the channel order
        the model takes; None for an unreadable file), the unreadable samples with the
        reasons, and (reason, path) of each image decoded on the CPU."""
        size = tuple(samples[0].img_shape)
        images: List[Optional[torch.Tensor]] = [None] * len(inputs)
        unreadable = []
        cpu_reasons = [(s.decoded_on_cpu, s.img_path) for s in samples if 'decoded_on_cpu' in s]
        encoded = [i for i, x in enumerate(inputs) if x.dim() == 1]
        for chunk in _chunks(encoded, [tuple(samples[i].ori_shape) for i in encoded]):
            decoded, notes = decode_jpegs([inputs[i] for i in chunk],
                                          [samples[i].img_path for i in chunk], self._device,
                                          self._refused)
            self._find_corrupt_data(decoded, notes, [inputs[i] for i in chunk],
                                    [samples[i] for i in chunk])
            for k, i in enumerate(chunk):
                image, decoded[k] = decoded[k], None  # freed once cropped
                if image is None:
                    unreadable.append((i, notes[k]))
                    continue
                if notes[k] == REFUSED:
                    cpu_reasons.append((REFUSED, samples[i].img_path))
                image = resized_crop(image, samples[i].crop_box, size)
                images[i] = image if self._channel_conversion else image.flip(0)  # RGB -> BGR
        for i, x in enumerate(inputs):
            if x.dim() == 3:  # decoded and cropped by the worker: BGR, as mmcv loads
                image = x.to(self._device, non_blocking=self._non_blocking).float()
                images[i] = image.flip(0) if self._channel_conversion else image
        return images, unreadable, cpu_reasons

    def _find_corrupt_data(self, images: list, notes: List[str], data: List[torch.Tensor],
                           samples: list) -> None:
        """Sets the images of files with corrupt data to None, with the reason in ``notes``.

        nvJPEG and torchvision's libjpeg-turbo decode a file whose data stops early (cut
        short before its end marker, or a header that counts more rows than the data holds)
        into the header's size, the missing part grey, without an error. Such an image ends
        in grey: those whose last pixel is grey are decoded again, strictly, as the CPU
        pipeline decodes them (a real photograph's grey corner just costs that decode).
        """
        suspects = []
        for k, (image, sample) in enumerate(zip(images, samples)):
            if image is None or notes[k] == REFUSED:  # REFUSED: decoded strictly already
                continue
            if tuple(image.shape[-2:]) != tuple(sample.ori_shape):
                images[k] = None
                notes[k] = (f'corrupt JPEG data (decoded {image.shape[-2]}x{image.shape[-1]}, '
                            f'the header says {sample.ori_shape[0]}x{sample.ori_shape[1]})')
            else:
                suspects.append(k)
        if not suspects:
            return
        corners = torch.stack([images[k][:, -1, -1] for k in suspects])
        grey = corners.eq(GREY_FILL).all(dim=1).tolist()  # one synchronisation per call
        for k in (k for k, is_grey in zip(suspects, grey) if is_grey):
            try:
                _decode_on_cpu(data[k], samples[k].img_path, torch.device('cpu'))
            except UnreadableImageError as error:
                images[k], notes[k] = None, error.reason

    def _replacements(self, unreadable: list, images: list, samples: list) -> dict:
        """{unreadable sample: the readable sample of the batch that takes its place}."""
        replacements = {}
        readable = [j for j, image in enumerate(images) if image is not None]
        for i, reason in unreadable:
            path = samples[i].img_path
            if not self.skip_unreadable:
                raise UnreadableImageError(path, reason)
            if not readable:
                raise RuntimeError(f'no image of the batch could be decoded (the last: '
                                   f'{UnreadableImageError(path, reason)}); is the data right?')
            # The next readable sample of the batch (deterministic, so exact resume holds).
            replacements[i] = min(readable, key=lambda j: (j - i) % len(images))
            self._reports.append((path, reason))
        return replacements

    def _count_cpu_decoded(self, reasons: List[Tuple[str, str]]) -> None:
        MessageHub.get_current_instance().update_scalar('train/decoded_on_cpu', len(reasons))
        for reason, path in reasons:
            if reason not in self._reasons_named:
                self._reasons_named.add(reason)
                print_log(f'GPU data path: decoding on the CPU where the device cannot: '
                          f'{reason}, e.g. {path} (counted per batch as decoded_on_cpu)',
                          logger='current', level=logging.WARNING)

    def new_reports(self) -> List[Tuple[str, str]]:
        """(path, reason) of each unreadable file skipped since the last call."""
        reports, self._reports = self._reports, []
        return reports
