#!/usr/bin/env bash
# Creates (or checks) the project's virtual environment in .venv: PyTorch 2.14.1, mmcv 2.1.0
# built with its compiled ops for that PyTorch, the OpenMMLab libraries, timm, and this
# package in editable mode. Idempotent: a second run only compares a stamp and returns.
#
# mmcv 2.1.0 is not released as a wheel for current PyTorch, and its sdist does not build as
# shipped (its setup.py needs the old setuptools API: it builds with setuptools < 70; it asks for C++14/17
# while the ATen headers of torch >= 2.14 require C++20). We build it once with both fixed
# and keep the wheel in a cache outside the checkout, keyed by Python and torch versions.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MIM_SCALING_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
CACHE=${MIM_SCALING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mim_scaling}

step() { printf '\n[setup_env] %s\n' "$*"; }
fail() {
  printf '\n[setup_env] FAILED at step: %s\n[setup_env] %s\n' "$CURRENT_STEP" "$1" >&2
  exit 1
}
run_step() {  # run_step "description" "what to do if it fails" cmd...
  CURRENT_STEP=$1; local hint=$2; shift 2
  step "$CURRENT_STEP"
  "$@" || fail "$hint"
}

# The stamp covers everything that decides the environment's content.
STAMP_INPUT=$(cat "$ROOT/setup.cfg" "$ROOT/tools/setup_env.sh"; echo "$TORCH_VERSION $MMCV_VERSION")
STAMP=$(printf '%s' "$STAMP_INPUT" | sha256sum | cut -c1-16)
if [[ -f "$VENV/.mim_scaling_stamp" && $(cat "$VENV/.mim_scaling_stamp") == "$STAMP" ]]; then
  exit 0
fi

command -v "$PYTHON" >/dev/null || { PYTHON=python3; }
CURRENT_STEP="check Python"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 10)' \
  || fail "Python >= 3.10 is required (set PYTHON=/path/to/python3.11)."

if [[ ! -x "$VENV/bin/python" ]]; then
  run_step "create virtual environment $VENV" \
    "Could not create a venv; install the python3-venv package for $PYTHON." \
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# pip, without the warnings that a machine-wide pip.conf naming absent local indexes causes.
pip_() {
  "$PY" -m pip --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

run_step "install torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION" \
  "pip could not install torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION; check network access to the package index." \
  pip_ install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

PYTAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$PYTAG-torch$TORCH_VERSION"
build_mmcv() {
  local work; work=$(mktemp -d)
  # For this build only: the final install below moves setuptools to what torch accepts.
  echo "[setup_env] (pip may warn that torch wants setuptools>=77: expected during this build)"
  pip_ install -q "setuptools>=64,<70" wheel ninja || return 1
  # --no-build-isolation: mmcv's setup.py imports torch even to read its metadata.
  pip_ download -q --no-deps --no-binary :all: --no-build-isolation \
    "mmcv==$MMCV_VERSION" -d "$work" || return 1
  tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work" || return 1
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' \
    "$work/mmcv-$MMCV_VERSION/setup.py" || return 1
  mkdir -p "$WHEEL_DIR.tmp"
  echo "[setup_env] compiling mmcv ops (about 8 minutes on 2 cores; done once, then cached in $WHEEL_DIR)"
  MAX_JOBS=${MAX_JOBS:-$(nproc)} MMCV_WITH_OPS=1 pip_ wheel -q --no-deps --no-build-isolation \
    "$work/mmcv-$MMCV_VERSION" -w "$WHEEL_DIR.tmp" || return 1
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.tmp" "$WHEEL_DIR"
  rm -rf "$work"
}
if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
  run_step "build mmcv $MMCV_VERSION from its sdist" \
    "The mmcv build failed (see the compiler output above). It needs gcc/g++ >= 10 and the Python headers; rerun this script once fixed." \
    build_mmcv
fi
run_step "install mmcv $MMCV_VERSION from $WHEEL_DIR" \
  "The cached mmcv wheel did not install; delete $WHEEL_DIR and rerun to rebuild it." \
  pip_ install -q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl

run_step "install mim_scaling and its dependencies (mmengine, mmdet, mmseg, mmpretrain, timm, ...)" \
  "pip could not install the package; the message above names the requirement that failed." \
  pip_ install -q --no-build-isolation -e "$ROOT[dev]"

run_step "check the stack imports" \
  "An OpenMMLab library does not import; see the traceback above." \
  "$PY" -W ignore -c 'import pkg_resources, mmcv.ops, mmdet, mmseg, mmpretrain, timm, mim_scaling'

echo "$STAMP" > "$VENV/.mim_scaling_stamp"
step "environment ready: $VENV"
