from .sliding_window_norm import SlidingWindowNormTarget

__all__ = ['SlidingWindowNormTarget']
