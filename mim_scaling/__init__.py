"""mim_scaling: SimMIM pre-training of SwinV2 and its transfer, as an OpenMMLab plugin.

Importing the package (directly or through ``custom_imports``) registers its backbone,
transforms, targets, hooks and optimizer constructors under the scope ``mim_scaling`` and
allow-lists the types that mmengine's own checkpoints need, so that resuming works with
PyTorch's safe ``weights_only`` loading kept on.
"""
from . import safe_loading  # noqa: F401  (installs safe checkpoint loading)
from . import datasets, engine, evaluation, models  # noqa: F401
from .registry import SCOPE

__version__ = '0.1.0'
__all__ = ['SCOPE', '__version__']
