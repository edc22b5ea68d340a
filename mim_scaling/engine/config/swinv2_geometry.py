"""Sizes and widths of a SwinV2 config that do not fit together, named by their fields.

Without these checks, a pipeline crop that differs from the backbone's ``img_size`` trains
silently with windows planned for another size, and a decoder of the wrong width fails at
the first step, deep in PyTorch. :func:`geometry_problems` reads only the config (nothing
is built); it is one of the checks of
:func:`~mim_scaling.engine.config.checks.check_config`, which the Runner runs when it is
built.

What is checked, for configs whose backbone is ``mim_scaling.SwinV2`` (a key the config
omits has the default of the class it configures, read from that class's signature):

* the backbone's own values: a known ``arch``, positive window and patch sizes, one
  window per stage;
* fixed-size inputs (SimMIM pre-training, classification): the crop of every data pipeline
  equals ``model.backbone.img_size``, the SimMIM mask generator's ``input_size`` and
  ``model_patch_size`` equal the crop and the backbone's ``patch_size``, and image and
  window sizes tile every stage's feature map (the message says which sizes would);
  detection and segmentation pad any input size, so only the widths are checked there;
* widths: the SimMIM decoder, the classifier head, the FPN and the UPerNet/FCN heads read
  channels that the backbone's ``out_indices`` stages give, in the right number.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mim_scaling.datasets.transforms.mask_generator import SimMIMMaskGenerator
from mim_scaling.models.backbones.swinv2 import ARCH_SETTINGS, SwinV2, stage_window
from mim_scaling.utils.config_types import type_name

__all__ = ['geometry_problems']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Arguments that give a crop transform's output size, (w, h) when a pair, as mmcv's and
# mmpretrain's RandomResizedCrop (scale), CenterCrop and RandomCrop (crop_size) name them.
_CROP_SIZE_KEYS = ('crop_size', 'scale', 'size')
# Crops whose size pair is (h, w) instead.
_HW_CROPS = ('LoadImageRandomResizedCrop', 'LoadEncodedRandomResizedCrop')


def _init_defaults(cls) -> Dict:
    """The default of each argument of ``cls``'s constructor that has one."""
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


_BACKBONE_DEFAULTS = _init_defaults(SwinV2)
_MASK_DEFAULTS = _init_defaults(SimMIMMaskGenerator)


def geometry_problems(cfg: Config) -> List[str]:
    """The problems of ``cfg``, one sentence each; empty for a config that can work."""
    model = cfg.get('model') or {}
    backbone = model.get('backbone') or {}
    if not str(backbone.get('type', '')).endswith('SwinV2'):
        return []
    problems: List[str] = []
    geometry = _backbone_geometry(backbone, problems)
    if geometry is None:
        return problems
    model_type = type_name(model.get('type', ''))
    if model_type in ('SimMIM', 'ImageClassifier'):  # fixed-size inputs
        problems += _input_size_problems(cfg, geometry)
        if not problems:
            problems += _tiling_problems(geometry)
    problems += _width_problems(model, geometry)
    return problems


# ----------------------------------------------------------------------------- backbone
def _backbone_geometry(bb: Dict, problems: List[str]) -> Optional[Dict]:
    bb = {**_BACKBONE_DEFAULTS, **bb}
    arch = bb['arch']
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            problems.append(f'model.backbone.arch={arch!r} is not one of '
                            f'{sorted(ARCH_SETTINGS)} (or a dict of embed_dims, depths, '
                            'num_heads)')
            return None
        arch = ARCH_SETTINGS[arch]
    try:
        embed_dims, depths = int(arch['embed_dims']), list(arch['depths'])
    except (KeyError, TypeError, ValueError):
        problems.append(f'model.backbone.arch={arch!r} needs embed_dims, depths and num_heads')
        return None
    n = len(depths)
    patch = bb['patch_size']
    window = bb['window_size']
    windows = [window] * n if isinstance(window, int) else list(window)
    img = bb['img_size']
    img = (img, img) if isinstance(img, int) else tuple(img)
    out_indices = bb['out_indices']
    out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    if not _positive_int(patch):
        problems.append(f'model.backbone.patch_size={patch!r} must be a positive integer')
    if len(windows) != n or not all(_positive_int(w) for w in windows):
        problems.append(f'model.backbone.window_size={window!r} must be a positive integer or '
                        f'{n} of them (one per stage)')
    if len(img) != 2 or not all(_positive_int(s) for s in img):
        problems.append(f'model.backbone.img_size={bb["img_size"]!r} must be a positive '
                        'integer or an (h, w) pair')
    pretrained = list(bb['pretrained_window_sizes'])
    if len(pretrained) != n or not all(isinstance(w, int) and w >= 0 for w in pretrained):
        problems.append(f'model.backbone.pretrained_window_sizes={pretrained} needs {n} '
                        'integers >= 0 (0: no pre-training window)')
    if any(not isinstance(i, int) or not 0 <= i < n for i in out_indices) or not out_indices:
        problems.append(f'model.backbone.out_indices={tuple(out_indices)} must be stages in '
                        f'[0, {n})')
    if problems:
        return None
    return dict(widths=[embed_dims * 2**i for i in range(n)], depths=depths, patch=patch,
                windows=windows, img=img, out_indices=out_indices)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# ---------------------------------------------------------------------------- inputs
def _pipelines(cfg: Config):
    """(field name, pipeline) of every data loader's dataset, through dataset wrappers."""
    for name in _LOADERS:
        loader = cfg.get(name)
        if not loader or 'dataset' not in loader:
            continue
        todo = [(f'{name}.dataset', loader['dataset'])]
        while todo:
            field, dataset = todo.pop()
            if 'pipeline' in dataset:
                yield f'{field}.pipeline', dataset['pipeline']
            if 'dataset' in dataset:
                todo.append((f'{field}.dataset', dataset['dataset']))
            for i, inner in enumerate(dataset.get('datasets') or []):
                todo.append((f'{field}.datasets[{i}]', inner))


def _is_size(value) -> bool:
    """An output size in pixels (not, say, an area range of floats)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return len(values) in (1, 2) and all(_positive_int(v) for v in values)


def _hw(size) -> Tuple[int, int]:
    if isinstance(size, int) or len(size) == 1:
        side = size if isinstance(size, int) else size[0]
        return side, side
    return size[1], size[0]  # (w, h) -> (h, w)


def _fmt(hw: Tuple[int, int]) -> str:
    return str(hw[0]) if hw[0] == hw[1] else f'{hw[0]}x{hw[1]} (h x w)'


def _input_size_problems(cfg: Config, g: Dict) -> List[str]:
    problems = []
    img = g['img']
    for field, pipeline in _pipelines(cfg):
        size, crop_at = None, None
        for i, step in enumerate(pipeline):
            kind = type_name(step.get('type', ''))
            key = next((k for k in _CROP_SIZE_KEYS if _is_size(step.get(k))), None)
            if 'Crop' in kind and key is not None:
                size = _hw(step[key]) if kind not in _HW_CROPS else _hw(step[key])[::-1]
                crop_at = f'{field}[{i}] ({kind}.{key})'
            if kind == 'SimMIMMaskGenerator':
                step = {**_MASK_DEFAULTS, **step}
                mask_size = _hw(step['input_size'])
                if size is not None and mask_size != size:
                    problems.append(
                        f'{field}[{i}] (SimMIMMaskGenerator) has input_size={_fmt(mask_size)} '
                        f'but {crop_at} crops {_fmt(size)} px')
                if step['model_patch_size'] != g['patch']:
                    problems.append(
                        f'{field}[{i}] (SimMIMMaskGenerator) has model_patch_size='
                        f'{step["model_patch_size"]} but model.backbone.patch_size='
                        f'{g["patch"]}')
        if size is not None and size != img:
            problems.append(
                f'{crop_at} crops {_fmt(size)} px but model.backbone.img_size={_fmt(img)}, '
                f'the size its windows are planned for: set both to the same size')
    return problems


def _tiles(maps: Sequence[int], window: int) -> bool:
    """Whether the window the backbone gives a stage of this map (h, w) tiles it."""
    windows, _ = stage_window(maps, (window, window))
    return all(m % w == 0 for m, w in zip(maps, windows))


def _tiling_problems(g: Dict) -> List[str]:
    """Image and window sizes must tile each stage's map, as fixed-size inputs are not padded."""
    patch, n, img, windows = g['patch'], len(g['widths']), g['img'], g['windows']
    stride = patch * 2**(n - 1)
    bad_axes = [s for s in img if s % stride]
    if bad_axes:
        return [f'model.backbone.img_size={_fmt(img)} is not a multiple of patch_size * '
                f'2**{n - 1} = {stride}, so stage {n - 1}\'s feature map is no whole number '
                f'of tokens: use e.g. {" or ".join(map(str, _near(bad_axes[0], stride)))}']

    def stage_maps(size: Tuple[int, int], i: int) -> List[int]:
        return [s // patch // 2**i for s in size]

    failing = [i for i in range(n) if not _tiles(stage_maps(img, i), windows[i])]
    if not failing:
        return []
    maps = ', '.join('stage {} is {}x{} tokens'.format(i, *stage_maps(img, i)) for i in failing)
    if len(set(windows)) == 1:
        field, window = 'model.backbone.window_size', windows[0]
        fits = [w for w in range(2, max(img) // patch + 1)
                if all(_tiles(stage_maps(img, i), w) for i in range(n))]
    else:
        i = failing[0]
        field, window = f'model.backbone.window_size[{i}]', windows[i]
        fits = [w for w in range(2, max(img) // patch + 1) if _tiles(stage_maps(img, i), w)]
    fits = sorted(sorted(fits, key=lambda w: (abs(w - window), w))[:3])
    sizes = [s for s in range(stride, 4 * max(img) + 1, stride)
             if all(_tiles(stage_maps((s, s), i), windows[i]) for i in range(n))]
    sizes = sorted(sorted(sizes, key=lambda s: (abs(s - max(img)), s))[:2])
    return [f'{field}={window} does not tile the token maps of model.backbone.img_size='
            f'{_fmt(img)} (patch_size {patch}): {maps}. Windows that would: '
            f'{", ".join(map(str, fits)) or "none"}; or keep the window and use img_size '
            f'{" or ".join(map(str, sizes)) or "(none up to 4x)"}']


def _near(size: int, step: int) -> List[int]:
    below = size // step * step
    return [s for s in (below, below + step) if s > 0]


# ---------------------------------------------------------------------------- widths
def _width_problems(model: Dict, g: Dict) -> List[str]:
    widths, out = g['widths'], g['out_indices']
    given = [widths[i] for i in out]  # channels of the backbone's outputs, in order
    arch = f'embed_dims {widths[0]}: stage widths {widths}'
    problems = []
    neck, head = model.get('neck') or {}, model.get('head') or {}
    neck_type = type_name(neck.get('type', ''))
    if neck_type == 'SimMIMLinearDecoder':
        # SimMIM decodes the first output (mim_scaling.SimMIM uses latent[0]).
        if neck.get('in_channels') != given[0]:
            problems.append(f'model.neck.in_channels={neck.get("in_channels")} but the backbone '
                            f'gives {given[0]} channels at stage {out[0]} ({arch})')
        stride = g['patch'] * 2**out[0]
        if neck.get('encoder_stride') != stride:
            problems.append(f'model.neck.encoder_stride={neck.get("encoder_stride")} but stage '
                            f'{out[0]} has stride patch_size * 2**{out[0]} = {stride}')
        if head.get('patch_size', g['patch']) != g['patch']:
            problems.append(f'model.head.patch_size={head.get("patch_size")} but '
                            f'model.backbone.patch_size={g["patch"]}')
    elif neck_type == 'FPN' or isinstance(neck.get('in_channels'), (list, tuple)):
        channels = list(neck.get('in_channels') or [])
        if len(channels) != len(out):
            problems.append(f'model.neck.in_channels has {len(channels)} entries but '
                            f'model.backbone.out_indices={tuple(out)} gives {len(out)} outputs')
        elif channels != given:
            problems.append(f'model.neck.in_channels={channels} but the backbone stages '
                            f'{tuple(out)} give {given} ({arch})')
    if str(model.get('type', '')).endswith('ImageClassifier') and 'in_channels' in head:
        if head['in_channels'] != given[-1]:
            problems.append(f'model.head.in_channels={head["in_channels"]} but the backbone\'s '
                            f'last output (stage {out[-1]}) has {given[-1]} channels ({arch})')
    if not neck:  # segmentation heads read the backbone outputs directly
        for name in ('decode_head', 'auxiliary_head'):
            heads = model.get(name) or []
            heads = heads if isinstance(heads, (list, tuple)) else [heads]
            for k, dense_head in enumerate(heads):
                field = f'model.{name}' + (f'[{k}]' if len(heads) > 1 else '')
                problems += _dense_head_problems(field, dense_head, given, out, arch)
    return problems


def _dense_head_problems(field: str, head: Dict, given: List[int], out: List[int],
                         arch: str) -> List[str]:
    if 'in_channels' not in head:
        return []
    channels, index = head['in_channels'], head.get('in_index', -1)
    many = isinstance(channels, (list, tuple))
    channels = list(channels) if many else [channels]
    index = list(index) if isinstance(index, (list, tuple)) else [index]
    if len(channels) != len(index):
        return [f'{field}.in_channels has {len(channels)} entries but {field}.in_index='
                f'{head.get("in_index", -1)} selects {len(index)} outputs']
    outside = [i for i in index if not -len(given) <= i < len(given)]
    if outside:
        return [f'{field}.in_index={head.get("in_index", -1)} selects output {outside[0]}, but '
                f'model.backbone.out_indices={tuple(out)} gives {len(given)}']
    for c, i in zip(channels, index):
        if c != given[i]:
            return [f'{field}.in_channels={head["in_channels"]} but backbone output '
                    f'{i % len(given)} (stage {out[i]}) has {given[i]} channels ({arch})']
    return []
