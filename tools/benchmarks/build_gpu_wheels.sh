#!/usr/bin/env bash
# Builds the wheel folder that tools/benchmarks/gpu_check.sh installs on a GPU machine, which
# then needs no package index: only Python 3.12 with PyTorch, torchvision, timm and the
# packages in GPU_MACHINE_HAS below. Run it on a machine that reaches a package index.
#
#   bash tools/benchmarks/build_gpu_wheels.sh [OUT_DIR]     # default: .whl (git-ignored)
#
# About 5 MiB, copied to the GPU machine with the checkout: this package,
# mmengine, mmpretrain, mmcv-lite (mmcv without compiled ops: enough for SimMIM and the
# backbone, not for Mask R-CNN's RoIAlign/NMS), their pure-Python dependencies that the GPU
# machine lacks, and simplejpeg (small, compiled for CPython 3.12), which the pre-training
# pipeline decodes JPEGs with. The GPU machine installs them with --no-deps: the OpenMMLab
# wheels declare opencv-python, which is there as opencv-python-headless (the same cv2).
# The script fails if a dependency of a carried wheel is neither carried nor there.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-.whl}
PYTHON=${PYTHON:-.venv/bin/python}

PURE_PYTHON=(
    mmengine==0.10.7 mmpretrain==1.2.0 mmcv-lite==2.1.0  # as in setup.cfg (mmcv: its ops)
    addict==2.4.0 termcolor==3.1.0 yapf==0.43.0          # mmengine, mmcv
    platformdirs==4.3.8                                  # yapf
    mat4py==0.6.0 importlib-metadata==8.7.0 model-index==0.1.11  # mmpretrain
    ordered-set==4.1.0                                   # model-index
    setuptools==80.9.0  # pkg_resources for mmengine; gpu_check.sh installs it only if missing
)
COMPILED_CP312=(
    simplejpeg==1.9.0
)
# The GPU machine's own packages that the carried wheels need (its image's package list).
GPU_MACHINE_HAS=(
    torch torchvision timm numpy matplotlib opencv-python pyyaml rich einops packaging pillow
    scikit-image scipy click markdown zipp typing-extensions huggingface-hub regex
)
# What this package declares but the GPU check does without: detection and segmentation
# (mmdet, mmsegmentation, pycocotools, ftfy) and mmcv's compiled ops (mmcv-lite instead).
NOT_NEEDED_THERE=(
    mmcv mmdet mmsegmentation pycocotools ftfy
)

rm -rf "$OUT"
mkdir -p "$OUT"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation py --abi none --platform any --dest "$OUT" "${PURE_PYTHON[@]}"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --dest "$OUT" \
    "${COMPILED_CP312[@]}"
# This package itself, built from a copy of its sources so that the build leaves nothing
# in the working tree.
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
cp -r pyproject.toml setup.cfg README.md mim_scaling "$SRC"
find "$SRC" -name __pycache__ -prune -exec rm -rf {} +
"$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$OUT" "$SRC"

"$PYTHON" - "$OUT" "${GPU_MACHINE_HAS[*]}" "${NOT_NEEDED_THERE[*]}" <<'PY'
import re, sys, zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GPU_PYTHON = {'python_version': '3.12', 'python_full_version': '3.12.3',
              'sys_platform': 'linux', 'platform_system': 'Linux', 'extra': ''}
out, there, not_needed = Path(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split()
wheels = sorted(out.glob('*.whl'))
carried = {canonicalize_name(w.name.split('-')[0]) for w in wheels}
known = carried | {'modelindex'} | {canonicalize_name(n) for n in there}  # model-index's alias
problems = []
for wheel in wheels:
    name = canonicalize_name(wheel.name.split('-')[0])
    if name == 'setuptools':  # vendors its dependencies
        continue
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA')))
    for line in meta.decode().splitlines():
        if not line.startswith('Requires-Dist:'):
            continue
        req = Requirement(line.split(':', 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate(GPU_PYTHON):
            continue
        dep = canonicalize_name(req.name)
        if dep not in known and not (name == 'mim-scaling' and dep in not_needed):
            problems.append(f'{wheel.name} needs {dep}: neither carried nor on the GPU machine')
size = sum(w.stat().st_size for w in wheels)
if size > 32 * 2**20:
    problems.append(f'{size / 2**20:.1f} MiB of wheels: more than the 32 MiB meant to be '
                    'copied with the working tree')
if problems:
    sys.exit('\n'.join(problems))
print(f'{len(wheels)} wheels, {size / 2**20:.1f} MiB, in {out}')
PY
