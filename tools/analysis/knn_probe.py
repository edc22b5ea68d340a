"""The weighted k-NN top-1 of frozen encoder features, for checkpoints of a pre-training.

Usage::

    python tools/analysis/knn_probe.py CONFIG CHECKPOINT [CHECKPOINT ...] [--out FILE.json]
        [--bank DIR --queries DIR] [--k K] [--temperature T]

Each checkpoint's encoder is loaded the way every fine-tuning loads it (the backbone's
``init_cfg``, ``type='Pretrained'``, through ``mim_scaling.safe_loading``), so the
untrained ``iter_0.pth`` that ``mim_scaling.InitialCheckpointHook`` writes is a control
that went through the same path as the trained checkpoints. The labelled images are those
of the config's ``mim_scaling.KNNProbeHook`` (the bank that votes and the held-out
queries), or two class-folder trees given by ``--bank`` and ``--queries``. Prints the top-1
with Wilson's 95% interval per checkpoint; ``--out`` writes them as JSON.
"""
import argparse
import json
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from mim_scaling.evaluation.frozen_features import build_probe
from mim_scaling.registry import MODELS
from mim_scaling.utils import type_name


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='k-NN top-1 of the frozen features of pre-training checkpoints.')
    parser.add_argument('config', help='the pre-training config of the checkpoints')
    parser.add_argument('checkpoints', nargs='+', help='checkpoints to evaluate')
    parser.add_argument('--bank', help='class folders of the labelled images that vote '
                        '(default: the config\'s KNNProbeHook)')
    parser.add_argument('--queries', help='class folders of the held-out images to classify')
    parser.add_argument('--k', type=int, help='neighbours that vote (default: the hook\'s)')
    parser.add_argument('--temperature', type=float, help='of the vote (default: the hook\'s)')
    parser.add_argument('--out', help='JSON file for the results')
    args = parser.parse_args(argv)
    if bool(args.bank) != bool(args.queries):
        parser.error('give --bank and --queries together')
    return args


def probe_settings(cfg: Config, args) -> dict:
    """bank, queries, k and temperature: the command line's, else the config's hook's."""
    hooks = [h for h in cfg.get('custom_hooks') or []
             if type_name(h.get('type')) == 'KNNProbeHook']
    settings = dict(hooks[0]) if hooks else {}
    settings.pop('type', None)
    if args.bank:
        pipeline = [dict(type='mim_scaling.LoadImageFromFile'), dict(type='PackInputs')]
        for key, folder in (('bank', args.bank), ('queries', args.queries)):
            if not Path(folder).is_dir():
                raise SystemExit(f'knn_probe.py: --{key} {folder} is not a folder')
            settings[key] = dict(type='CustomDataset', data_root=folder, pipeline=pipeline)
    if 'bank' not in settings:
        raise SystemExit(f'knn_probe.py: {cfg.filename} has no mim_scaling.KNNProbeHook in '
                         'custom_hooks to take the labelled images from; give --bank and '
                         '--queries')
    for key in ('k', 'temperature'):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


def load_encoder(cfg: Config, checkpoint: str):
    """The config's backbone with the checkpoint's weights, loaded as fine-tunings load them."""
    backbone_cfg = dict(cfg.model.backbone, init_cfg=dict(type='Pretrained',
                                                          checkpoint=checkpoint))
    backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    return backbone


def main(argv=None):
    args = parse_args(argv)
    missing = [c for c in args.checkpoints if not Path(c).is_file()]
    if missing:
        raise SystemExit(f'knn_probe.py: no checkpoint at {", ".join(missing)}')
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    settings = probe_settings(cfg, args)
    probe = build_probe(cfg.model, **settings)
    results = {}
    for checkpoint in args.checkpoints:
        result = probe(load_encoder(cfg, checkpoint))
        results[checkpoint] = dict(top1=result.top1, low=result.low, high=result.high,
                                   n=result.n)
        print(f'{checkpoint}: k-NN top-1 {result.top1:.2f} (95% interval {result.low:.2f}-'
              f'{result.high:.2f}, {result.n} images)', flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + '\n')
    return results


if __name__ == '__main__':
    main()
