from .bf16_optim_wrapper import BF16FiniteLossOptimWrapper
from .finite_loss_optim_wrapper import FiniteLossOptimWrapper, NonFiniteError
from .layer_decay import LayerDecayOptimWrapperConstructor
from .merged_groups import MergedGroupsOptimWrapperConstructor, merge_param_groups
from .zero_redundancy import ZeroRedundancyOptimizer

__all__ = ['BF16FiniteLossOptimWrapper', 'FiniteLossOptimWrapper',
           'LayerDecayOptimWrapperConstructor', 'MergedGroupsOptimWrapperConstructor',
           'NonFiniteError', 'ZeroRedundancyOptimizer', 'merge_param_groups']
