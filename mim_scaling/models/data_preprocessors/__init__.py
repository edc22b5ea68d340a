from .device_decode import DeviceDecodeDataPreprocessor

__all__ = ['DeviceDecodeDataPreprocessor']
