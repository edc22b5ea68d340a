from .image_errors import UnreadableImageError
from .load_random_resized_crop import LoadImageRandomResizedCrop
from .loading import LoadImageFromFile
from .mask_generator import SimMIMMaskGenerator

__all__ = ['LoadImageFromFile', 'LoadImageRandomResizedCrop', 'SimMIMMaskGenerator',
           'UnreadableImageError']
