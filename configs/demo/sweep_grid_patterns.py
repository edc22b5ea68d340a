# The grid of the README's labelled miniature, for tools/sweep.py --grid: a two-stage SwinV2
# of width 32 pre-trained for 2000 iterations on the tenth (400 images) or all (4000) of the
# unlabelled patterns that tools/misc/make_patterns.py renders, three seeds each. Each run
# logs the k-NN top-1 of its frozen features at iteration 0 (its random initialisation, the
# control) and at the end; there is no fine-tuning.
pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
finetune_config = None
models = ['w32']
data = ['patterns-10pct', 'patterns']
lengths = ['2000it']
seeds = [0, 1, 2]
