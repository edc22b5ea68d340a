from .encoded_inputs import (LoadEncodedRandomResizedCrop, PackEncodedInputs,
                             RandomFlipOnDevice)
from .image_errors import UnreadableImageError
from .load_random_resized_crop import LoadImageRandomResizedCrop
from .loading import LoadImageFromFile
from .mask_generator import SimMIMMaskGenerator

__all__ = ['LoadEncodedRandomResizedCrop', 'LoadImageFromFile', 'LoadImageRandomResizedCrop',
           'PackEncodedInputs', 'RandomFlipOnDevice', 'SimMIMMaskGenerator',
           'UnreadableImageError']
