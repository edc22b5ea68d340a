"""Write the study's ImageNet-1K training subsets as mmpretrain annotation files.

    python tools/dataset_converters/make_imagenet_subsets.py data/imagenet

reads ``data/imagenet/train/<wnid>/*.JPEG`` (or, with ``--ann-file``, a list such as
``meta/train.txt``; with ``--unlabelled``, images lying directly in ``train/``, such as the
demo photographs) and writes ``data/imagenet/meta/train_{10,20,50}pct.txt``, the files
that ``configs/pretrain/*_in1k-{10,20,50}pct.py`` read. Every class keeps the same fraction
of its images; the subsets are nested and the same for the same ``--seed`` everywhere (see
``mim_scaling/datasets/subsets.py``). The images per class are printed.

An existing subset file is only replaced by identical content unless ``--force`` is given,
so that the lists a model was trained on are not overwritten by another seed by mistake.
"""
import argparse
import sys
from pathlib import Path

from mim_scaling.datasets.subsets import (STUDY_FRACTIONS, annotation_name, check_fraction,
                                          count_table, format_annotations, make_subsets,
                                          read_annotation_file, read_class_folders,
                                          read_image_folder)


def fraction(text: str) -> float:
    try:
        return check_fraction(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', type=Path, help='data set root, e.g. data/imagenet')
    parser.add_argument('--image-dir', default='train',
                        help='folder of the class folders, relative to ROOT (default: train); '
                             'the paths written are relative to it')
    parser.add_argument('--ann-file', type=Path,
                        help='read the images from this annotation file ("<path> <label>" '
                             'lines, paths relative to --image-dir) instead of the folders; '
                             'a relative name is taken from ROOT')
    parser.add_argument('--unlabelled', action='store_true',
                        help='the images lie directly in --image-dir, without class folders: '
                             'take them as one class (label 0)')
    parser.add_argument('--fractions', type=fraction, nargs='+', default=list(STUDY_FRACTIONS),
                        help='fractions of every class to keep, in (0, 1] (default: '
                             '0.1 0.2 0.5)')
    parser.add_argument('--seed', type=int, default=0, help='default: 0')
    parser.add_argument('--out-dir', type=Path, help='default: ROOT/meta')
    parser.add_argument('--force', action='store_true',
                        help='replace existing subset files that differ')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        write_subsets(args)
    except (OSError, ValueError) as e:  # a bad data set: say which, without a traceback
        sys.exit(f'error: {e}')


def write_subsets(args):
    if args.ann_file is not None:
        ann_file = args.ann_file if args.ann_file.is_absolute() else args.root / args.ann_file
        classes = read_annotation_file(ann_file)
        source = ann_file
    else:
        source = args.root / args.image_dir
        classes = (read_image_folder if args.unlabelled else read_class_folders)(source)
    subsets = make_subsets(classes, args.fractions, seed=args.seed)

    out_dir = args.out_dir or args.root / 'meta'
    outputs = {out_dir / annotation_name(f): format_annotations(s) for f, s in subsets.items()}
    clashes = [p for p, text in outputs.items() if p.exists() and p.read_text() != text]
    if clashes and not args.force:
        sys.exit(f'{", ".join(map(str, clashes))} already exist{"s" if len(clashes) == 1 else ""} '
                 f'with other content (another seed or data set?); pass --force to replace, '
                 f'or choose another --out-dir')
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        partial = path.with_name(path.name + '.partial')
        partial.write_text(text)
        partial.replace(path)

    print(count_table(classes, subsets))
    print(f'{len(classes)} classes from {source}, seed {args.seed}; wrote '
          + ', '.join(f'{p} ({len(s)} images)' for p, s in zip(outputs, subsets.values())))


if __name__ == '__main__':
    main()
