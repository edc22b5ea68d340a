"""Fetch a released checkpoint of the study by its zoo name, ready for our configs.

The file is downloaded once into the Hugging Face cache (progress bar, resumed where it
stopped when the connection breaks, checked against the hub's SHA-256), converted (nothing
pickled in it runs) and written to ``--out-dir``: a pre-trained name
(``swinv2_base_1kper10_125k``) gives a SimMIM checkpoint with its decoder, for a backbone's
``init_cfg``, ``load_from`` or ``tools/test.py`` on a pre-training config; a fine-tuned name
(``finetune_swinv2_base_1kper10_125k``) gives an mmpretrain ImageClassifier checkpoint for
``tools/test.py configs/imagenet/...``.

Examples::

    python tools/model_zoo/fetch.py --list
    python tools/model_zoo/fetch.py --list --model b --data in1k-10pct in22k
    python tools/model_zoo/fetch.py swinv2_base_1k_500k
    python tools/model_zoo/fetch.py finetune_swinv2_base_1k_500k --source https://hf-mirror.com
    python tools/model_zoo/fetch.py swinv2_base_1k_500k --source /mnt/models/SimMIM   # offline
"""
import argparse
import sys
from pathlib import Path

from mim_scaling.safe_loading import UnsafeCheckpointError
from mim_scaling.zoo import DATA_NAMES, HUB_REPO, LENGTHS, MODEL_NAMES, ZooEntry, find, select
from mim_scaling.zoo.fetch import DEFAULT_OUT_DIR, fetch, is_finetuned_name

ROOT = Path(__file__).resolve().parents[2]


def print_zoo(entries):
    print(f'{"pre-trained name":<28} {"fine-tuned name":<37} {"val loss":>8} {"top-1":>6}')
    for e in entries:
        print(f'{e.name:<28} {e.finetuned_name:<37} {e.val_loss:>8.4f} {e.top1:>6.2f}')
    print(f'{len(entries)} pre-trained encoders (with decoders) and {len(entries)} fine-tuned '
          f'classifiers, from https://huggingface.co/{HUB_REPO}')


def continue_config(entry: ZooEntry) -> str:
    return f'configs/pretrain/simmim_swinv2-{entry.model}_continue-20k_folder.py'


def next_steps(entry: ZooEntry, finetuned: bool, out: Path) -> str:
    """The commands that take the written file."""
    if finetuned:
        return ('Evaluate it on ImageNet-1K val (data/imagenet, see configs/imagenet/README.md):\n'
                f'  python tools/test.py {entry.finetune_config} {out}')
    init = f'--cfg-options model.backbone.init_cfg.checkpoint={out}'
    lines = ['Its SimMIM validation loss on ImageNet-1K val (the zoo table\'s figure):',
             f'  python tools/test.py {entry.pretrain_config} {out}',
             'Fine-tune it on ImageNet-1K:',
             f'  python tools/train.py {entry.finetune_config} {init}']
    for task, config in (('COCO', f'configs/coco/mask_rcnn_swinv2_{entry.model}.py'),
                         ('ADE20K', f'configs/ade20k/upernet_swinv2_{entry.model}.py')):
        if (ROOT / config).is_file():
            lines += [f'Fine-tune it on {task}:', f'  python tools/train.py {config} {init}']
    lines += ['Continue its pre-training on your own images (data/my_images/{train,val}):',
              f'  python tools/train.py {continue_config(entry)} --cfg-options load_from={out}']
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('name', nargs='?',
                        help='zoo name, e.g. swinv2_base_1kper10_125k or '
                        'finetune_swinv2_base_1kper10_125k (see --list)')
    parser.add_argument('--list', action='store_true', help='list the released models')
    parser.add_argument('--model', nargs='+', choices=MODEL_NAMES, help='--list: these models only')
    parser.add_argument('--data', nargs='+', choices=DATA_NAMES, help='--list: these data sets')
    parser.add_argument('--length', nargs='+', choices=LENGTHS, help='--list: these lengths')
    parser.add_argument('--out-dir', default=DEFAULT_OUT_DIR,
                        help=f'where the converted checkpoint goes (default: {DEFAULT_OUT_DIR})')
    parser.add_argument('--source', metavar='URL_OR_DIR',
                        help='a mirror of the Hugging Face hub (default: the hub, or HF_ENDPOINT)'
                        ',\nor a local folder holding the released files (offline machines)')
    parser.add_argument('--cache-dir', help='download cache (default: huggingface_hub\'s, '
                        'HF_HUB_CACHE)')
    args = parser.parse_args(argv)

    if args.list:
        print_zoo(select(args.model, args.data, args.length))
        return
    if args.name is None:
        parser.error('give a zoo name, or --list to see them')
    try:
        entry, finetuned = find(args.name), is_finetuned_name(args.name)
    except KeyError as e:
        sys.exit(f'error: {e.args[0]}; see python tools/model_zoo/fetch.py --list')
    try:
        out, converted = fetch(args.name, args.out_dir, args.source, args.cache_dir)
    except (OSError, ValueError, UnsafeCheckpointError) as e:
        sys.exit(f'error: could not fetch {args.name}: {e}\n(without access to the hub: '
                 f'--source with a mirror or a folder holding the file)')
    meta = converted['meta']
    published = f'top-1 {entry.top1:.2f}' if finetuned else f'validation loss {entry.val_loss:.4f}'
    print(f'wrote {out}: {meta["model"]} checkpoint of {MODEL_NAMES[entry.model][0]} '
          f'pre-trained on {DATA_NAMES[entry.data][0]} for {entry.length} iterations'
          f'{", fine-tuned on ImageNet-1K" if finetuned else ""} (published {published}; '
          f'pre-training windows {meta.get("pretrained_window_sizes", "unknown")})')
    print(next_steps(entry, finetuned, out))


if __name__ == '__main__':
    main()
