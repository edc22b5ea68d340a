from .simmim import SimMIM

__all__ = ['SimMIM']
