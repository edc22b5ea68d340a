#!/usr/bin/env bash
# The GPU check of the pre-training code. The GPU machine needs one CUDA device and Python
# 3.12 with PyTorch, torchvision and timm installed; it needs no package index, as the other
# packages come as wheels with the working tree. Build the wheel folder on a machine that
# reaches a package index first, and carry it there with the working tree:
#
#   bash tools/benchmarks/build_gpu_wheels.sh            # -> .whl/ (pure-Python, ~4 MiB)
#   bash tools/benchmarks/gpu_check.sh                   # on the GPU machine, in the repo root
#
# Steps (each bounded by a timeout, a failing one does not stop the others):
#   1. install .whl/ with pip --no-index --no-deps into a private folder put on PYTHONPATH;
#   1b. first, as device time may run out: nvJPEG's known faults (check_device_decoding.py):
#      decoding with training work queued on the stream (pytorch/vision PR 9606), without and
#      with the guard, against libjpeg-turbo; corrupt files that keep their end marker, RGB
#      JPEGs with and without the Adobe segment, a motion photo; peak memory of the device
#      part on 8 JPEGs of 4000x3000;
#   2. the tests that need no compiled mmcv ops (no Mask R-CNN / UPerNet), on the GPU machine;
#   3. the SimMIM step of SwinV2-B, 192 px, batch 128, bf16: ours against timm eager, then
#      ours compiled, images/s, peak memory and MFU (benchmark_simmim.py);
#   4. the SwinV2-B backbone forward+backward at 1024x1024 with 2 images (the Mask R-CNN
#      input), with and without activation checkpointing, peak memory included;
#   5. the GPU data path (decode_on_device=True): decoding, cropping, resizing and flipping
#      a batch of 128 JPEGs on the GPU against the SimMIM step (eager, bf16), the share of a
#      step it adds, its largest difference to the same on the CPU, and the workers' CPU
#      time per image on this machine's CPU, transforms and whole worker
#      (benchmark_device_decoding.py);
#   6. tools/dist_train.sh with 1 GPU on NCCL, 8 workers, the demo config with SwinV2-B at
#      batch 128 on JPEGs: the GPU data path, then the CPU pipeline, each with the log's
#      data_time against time.
# The whole check stops starting steps past BUDGET seconds (default 460, so that it ends
# within 8 minutes with the last step's wrap-up); a step is also cut to what is left of it.
# It prints as it goes.
# Output is also written to ${OUT:-/tmp}/gpu_check.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/mim_scaling_site}
LOG=${OUT:-/tmp}/gpu_check.log
BUDGET=${BUDGET:-460}
export PYTHONUNBUFFERED=1
exec > >(tee "$LOG") 2>&1
failed=()

step() { echo; echo "=== [$(date -u +%H:%M:%S), ${SECONDS}s] $*"; }
run() {  # run SECONDS NAME COMMAND...: a step's command under a timeout, noting failures
    local limit=$1 name=$2 left=$((BUDGET - SECONDS))
    shift 2
    if (( left < 15 )); then
        echo "--- $name: SKIPPED (${BUDGET}s spent)"
        failed+=("$name")
        return
    fi
    (( limit > left )) && limit=$left
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "--- $name: FAILED (exit $rc$([[ $rc -eq 124 ]] && echo ', timed out'))"
        failed+=("$name")
    fi
}

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" -c 'import sys, torch, torchvision, timm; print(sys.version.split()[0], "torch",
    torch.__version__, "torchvision", torchvision.__version__, "timm", timm.__version__,
    "CUDA", torch.version.cuda, torch.cuda.get_device_name())'

step "1. install the wheels of $WHEELS into $SITE"
if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "no wheels in $WHEELS: run tools/benchmarks/build_gpu_wheels.sh first and carry $WHEELS"
    exit 1
fi
wheels=()
for w in "$WHEELS"/*.whl; do
    # setuptools only where the machine's own lacks pkg_resources (mmengine needs it).
    if [[ $(basename "$w") == setuptools-* ]] && "$PYTHON" -c 'import pkg_resources' \
            2>/dev/null; then
        continue
    fi
    wheels+=("$w")
done
run 30 install "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" "${wheels[@]}"
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
run 60 imports "$PYTHON" -c 'import mmengine, mmcv, mmpretrain, mim_scaling
print("mmengine", mmengine.__version__, "mmcv", mmcv.__version__, "mmpretrain",
      mmpretrain.__version__, "mim_scaling", mim_scaling.__version__)'

step "1b. nvJPEG's known faults: the stream race, corrupt files, memory on 4000x3000 files"
run 100 device-decoder "$PYTHON" tools/benchmarks/check_device_decoding.py --device cuda

step "2. tests that need no compiled mmcv ops"
xdist=()
"$PYTHON" -c 'import xdist' 2>/dev/null && xdist=(-n 8)
run 90 tests "$PYTHON" -m pytest -q -p no:cacheprovider --continue-on-collection-errors \
    "${xdist[@]}" \
    tests/models tests/engine tests/evaluation tests/visualization tests/zoo \
    tests/test_safe_loading.py tests/tools/test_benchmarks.py \
    --deselect tests/tools/test_benchmarks.py::test_gpu_wheel_set_covers_what_the_gpu_machine_lacks

step "3a. SimMIM step, SwinV2-B, 192 px, batch 128, bf16: ours against timm, eager"
run 80 simmim "$PYTHON" tools/benchmarks/benchmark_simmim.py --device cuda --dtype bfloat16 \
    --batch 128 --repeats 10 --warmup 3
step "3b. the same, ours compiled (compile=True) against ours eager"
run 150 simmim-compiled "$PYTHON" tools/benchmarks/benchmark_simmim.py --device cuda \
    --dtype bfloat16 --batch 128 --repeats 10 --warmup 3 --impls mim_scaling \
    --compile mim_scaling --no-memory

step "4. SwinV2-B backbone forward+backward, 1024x1024, 2 images, with and without checkpointing"
run 60 backbone-1024 "$PYTHON" tools/benchmarks/benchmark_backbone.py --device cuda \
    --dtype bfloat16 --img-size 1024 --window 14 --batch 2 --repeats 5 \
    --impls mim_scaling timm --with-cp both

step "5. the GPU data path at batch 128: device part against the SimMIM step, bf16"
DEMO=/tmp/gpu_check_demo
run 90 device-decoding "$PYTHON" tools/benchmarks/benchmark_device_decoding.py --part step \
    --device cuda --dtype bfloat16 --batch 128 --num-images 128 --repeats 10
run 30 worker-part "$PYTHON" tools/benchmarks/benchmark_device_decoding.py --part worker \
    --repeats 3
run 40 whole-worker "$PYTHON" tools/benchmarks/benchmark_device_decoding.py --part loader \
    --batch 32 --batches 8 --repeats 3

step "6. tools/dist_train.sh, 1 GPU, NCCL, 8 workers: demo config, SwinV2-B, batch 128, JPEGs"
run 40 jpegs "$PYTHON" tools/benchmarks/benchmark_device_decoding.py --save-jpegs "$DEMO/jpegs" \
    --num-images 256
TRAIN=(configs/demo/simmim_swinv2-demo_300it_skimage.py 1 --amp --cfg-options
    model.backbone.arch=base model.neck.in_channels=1024 train_dataloader.batch_size=128
    train_dataloader.num_workers=8 train_dataloader.persistent_workers=True
    train_dataloader.pin_memory=True train_dataloader.dataset.data_root="$DEMO/jpegs/"
    val_dataloader.dataset.data_root="$DEMO/jpegs/" test_dataloader.dataset.data_root="$DEMO/jpegs/"
    train_cfg.max_iters=40 train_cfg.val_interval=1000 default_hooks.logger.interval=5
    default_hooks.checkpoint.interval=1000 "custom_hooks=[]")
for path in gpu cpu; do
    on=$([[ $path == gpu ]] && echo True || echo False)
    run 100 "dist-train-$path-path" bash tools/dist_train.sh "${TRAIN[@]}" \
        decode_on_device=$on --work-dir "$DEMO/${path}_path"
    run 20 "$path-path-log" "$PYTHON" tools/benchmarks/benchmark_device_decoding.py --part log \
        --work-dir "$DEMO/${path}_path"
done

step "done in ${SECONDS}s; failed: ${failed[*]:-none}"
[[ ${#failed[@]} -eq 0 ]]
