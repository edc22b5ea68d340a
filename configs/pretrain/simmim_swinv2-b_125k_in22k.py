# SimMIM pre-training of SwinV2-B on ImageNet-22K (no labels) for 125k iterations (Table 1).
# Total batch 2048 = 16 GPUs x 128 images: tools/dist_train.sh with 8 GPUs per node on
# 2 nodes; on another GPU count add --auto-scale-lr to rescale the lr.
_base_ = [
    '../_base_/models/simmim_swinv2-b.py',
    '../_base_/datasets/imagenet22k_simmim_192.py',
    '../_base_/schedules/simmim_step_125k.py',
    '../_base_/default_runtime_pretrain.py',
]
