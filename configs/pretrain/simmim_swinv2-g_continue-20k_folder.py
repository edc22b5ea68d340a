# Continued SimMIM pre-training of a released SwinV2-g on your own images, starting from the
# released encoder and decoder: python tools/model_zoo/fetch.py swinv2_giant_1k_500k
# (or any other swinv2_giant_* name of python tools/model_zoo/fetch.py --list), images in
# data/my_images/train and data/my_images/val. The lr is scaled to your total batch:
#   python tools/train.py configs/pretrain/simmim_swinv2-g_continue-20k_folder.py
#   tools/dist_train.sh configs/pretrain/simmim_swinv2-g_continue-20k_folder.py 8
_base_ = [
    '../_base_/models/simmim_swinv2-g.py',
    '../_base_/datasets/folder_simmim_192.py',
    '../_base_/schedules/simmim_continue_step_20k.py',
    '../_base_/default_runtime_pretrain.py',
]
load_from = 'work_dirs/pretrained/swinv2_giant_1k_500k.pth'
train_dataloader = dict(batch_size=64)
