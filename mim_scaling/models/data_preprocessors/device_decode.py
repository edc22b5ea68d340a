"""The device's part of the GPU data path: decode, crop, resize, flip and normalise a batch.

Decoding is torchvision's ``decode_jpeg`` (nvJPEG on a GPU, libjpeg-turbo on the CPU), which
torchvision 0.29 deprecates in favour of TorchCodec's decoders but still ships.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from torchvision.io import ImageReadMode, decode_jpeg

from mim_scaling.datasets.transforms.image_errors import UnreadableImageError
from mim_scaling.registry import MODELS

__all__ = ['DeviceDecodeDataPreprocessor', 'decode_jpegs']

REFUSED = 'refused by the device decoder'


def decode_jpegs(data: Sequence[torch.Tensor], device: Union[str, torch.device]
                 ) -> Tuple[List[Optional[torch.Tensor]], List[str]]:
    """Decodes encoded JPEGs (1-D uint8 CPU tensors) to (3, H, W) uint8 RGB on ``device``.

    One batched call of ``torchvision.io.decode_jpeg`` (nvJPEG on a CUDA device). If it
    fails, each file is decoded alone, and a file the device's decoder refuses is decoded
    on the CPU and moved. Returns the images (None for a file no decoder reads) and, for
    each file, '' or why it was not decoded on the device (:data:`REFUSED`) or at all.
    """
    device = torch.device(device)
    if not data:
        return [], []
    try:
        return decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device), [''] * len(data)
    except RuntimeError:
        pass  # find the files at fault
    images, notes = [], []
    for encoded in data:
        try:
            images.append(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
            notes.append('')
            continue
        except RuntimeError as error:
            failure = error
        if device.type != 'cpu':
            try:
                images.append(decode_jpeg(encoded, mode=ImageReadMode.RGB).to(device))
                notes.append(REFUSED)
                continue
            except RuntimeError as error:
                failure = error
        images.append(None)
        notes.append(f'corrupt JPEG data ({str(failure).splitlines()[0]})')
    return images, notes


@MODELS.register_module()
class DeviceDecodeDataPreprocessor(SelfSupDataPreprocessor):
    """mmpretrain's ``SelfSupDataPreprocessor`` that also takes the GPU data path's batches.

    A training batch of ``mim_scaling.PackEncodedInputs`` samples (collated by
    ``pseudo_collate``) holds, per sample, the encoded JPEG and its ``crop_box``, or a crop
    that the dataloader worker decoded (``decoded_on_cpu`` says why). On the model's device
    the JPEGs are decoded in one call (:func:`decode_jpegs`: nvJPEG on a GPU, libjpeg-turbo
    on the CPU), each crop is cut out and resized to the sample's ``img_shape`` by
    antialiased bilinear interpolation in float32 (the triangle filter of Pillow's and the
    CPU pipeline's resize), the flipped samples are flipped, and the batch is normalised as
    ``SelfSupDataPreprocessor`` does (RGB when ``to_rgb``). Any other batch (validation,
    the CPU pipeline) is ``SelfSupDataPreprocessor``'s.

    Images decoded on the CPU (by the workers, or here when the device's decoder refuses
    a file) are counted in the log as ``decoded_on_cpu`` (per batch of this process), and
    each reason is named once in a warning. A file that no decoder reads raises
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
        encoded = [i for i, x in enumerate(inputs) if x.dim() == 1]
        decoded, notes = decode_jpegs([inputs[i] for i in encoded], self._device)
        images: List[Optional[torch.Tensor]] = [None] * len(inputs)
        unreadable = []
        cpu_reasons = [(s.decoded_on_cpu, s.img_path) for s in samples if 'decoded_on_cpu' in s]
        for i, image, note in zip(encoded, decoded, notes):
            if image is None:
                unreadable.append((i, note))
                continue
            if note == REFUSED:
                cpu_reasons.append((note, samples[i].img_path))
            top, left, height, width = samples[i].crop_box
            crop = image[None, :, top:top + height, left:left + width].float()
            image = F.interpolate(crop, size, mode='bilinear', align_corners=False,
                                  antialias=True)[0]
            images[i] = image if self._channel_conversion else image.flip(0)  # RGB -> BGR
        for i, x in enumerate(inputs):
            if x.dim() == 3:  # decoded and cropped by the worker: BGR, as mmcv loads
                image = x.to(self._device, non_blocking=self._non_blocking).float()
                images[i] = image.flip(0) if self._channel_conversion else image
        return images, unreadable, cpu_reasons

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
