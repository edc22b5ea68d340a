"""AdamW's states sharded over the ranks (ZeRO stage 1), with checkpoints that save."""
from mmengine.dist import is_main_process
from mmengine.optim import ZeroRedundancyOptimizer as MMEngineZeroRedundancyOptimizer
from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZeroRedundancyOptimizer

from mim_scaling.registry import OPTIMIZERS

__all__ = ['ZeroRedundancyOptimizer']


@OPTIMIZERS.register_module()
class ZeroRedundancyOptimizer(MMEngineZeroRedundancyOptimizer):
    """mmengine's ``ZeroRedundancyOptimizer`` whose ``state_dict`` gathers nothing itself.

    Gathering the shards (``consolidate_state_dict``) is a collective call, and mmengine's
    version makes it inside ``state_dict``, which the Runner calls from the main process only
    (``Runner.save_checkpoint`` is ``master_only``): the first checkpoint of a distributed
    run would wait forever. Here :class:`~mim_scaling.engine.hooks.ConsolidateOptimizerStateHook`
    gathers the shards on every rank just before a checkpoint is saved, and ``state_dict``
    returns what rank 0 gathered (PyTorch raises a clear error if nothing was).
    Loading a checkpoint (all ranks) keeps each rank's own shard.

    Args:
        params: Parameters or parameter groups, sharded across the ranks.
        optimizer_type (str): Name of the ``torch.optim`` optimizer each rank runs on its
            shard, e.g. ``'AdamW'``; further keyword arguments go to it.
    """

    def state_dict(self) -> dict:
        return TorchZeroRedundancyOptimizer.state_dict(self) if is_main_process() else {}
