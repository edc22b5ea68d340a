# The grid of the README's miniature of the study, for tools/sweep.py --grid: two demo-sized
# SwinV2 (widths 16 and 32) x all or half of the demo photographs, 60 iterations each,
# pre-training only (the photographs have no labels to fine-tune on).
pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
finetune_config = None
models = ['w16', 'w32']
data = ['skimage-50pct', 'skimage']
lengths = ['60it']
