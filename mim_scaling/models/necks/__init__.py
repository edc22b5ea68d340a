from .simmim_linear_decoder import SimMIMLinearDecoder

__all__ = ['SimMIMLinearDecoder']
