# The grid of the README's miniature of the study, for tools/sweep.py --grid: two
# demo-sized SwinV2 (widths 16 and 32) pre-trained for 200 iterations on half or all of the
# training images of scikit-image's lfw_subset, each fine-tuned as a face / non-face
# classifier; and each model fine-tuned from scratch, for what pre-training buys.
pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
finetune_config = 'configs/demo/swinv2-demo-{model}_ft_lfw.py'
from_scratch = True
models = ['w16', 'w32']
data = ['lfw-50pct', 'lfw']
lengths = ['200it']
