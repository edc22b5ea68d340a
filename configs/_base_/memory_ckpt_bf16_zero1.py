# Memory settings of SwinV2-H and SwinV2-g, for pre-training (80 GB GPUs at 64 images per
# GPU: docs/memory.md has the budget, from tools/benchmarks/memory_model.py) and for
# ImageNet-1K fine-tuning (configs/imagenet/swinv2-{h,g}_ft_in1k.py):
# - with_cp: activation checkpointing of every SwinV2 block;
# - bf16: autocast to bfloat16 (mim_scaling.BF16FiniteLossOptimWrapper in place of the
#   schedules' FiniteLossOptimWrapper; bf16 needs no loss scaling);
# - shard_optimizer: AdamW's moments sharded over the GPUs (ZeRO stage 1, mmengine's
#   ZeroRedundancyOptimizer wrapping the config's optimizer), when run distributed;
# - DDP's gradients as views of its communication buckets, not a second copy.
# The models' and schedules' _base_ files own `model` and `optim_wrapper`, and mmengine
# refuses a key that two _base_ files set, so mim_scaling's Runner (the configs'
# runner_type) applies `memory_saving` to the model and optimizer of the config when it is
# built, under any tools/train.py (mim_scaling/engine/config/memory_saving.py). Switch a part off
# with, e.g., --cfg-options memory_saving.bf16=False, or all with memory_saving=None.
memory_saving = dict(with_cp=True, bf16=True, shard_optimizer=True)
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', broadcast_buffers=False, gradient_as_bucket_view=True)
