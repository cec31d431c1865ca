"""Mappings of linear algebra onto the array (brief section 4), as array programs."""

from .common import Workload, collect_vector, from_fp16_bits, split, to_fp16_bits
from .gemv import gemv_program

__all__ = ["Workload", "collect_vector", "from_fp16_bits", "split", "to_fp16_bits",
           "gemv_program"]
