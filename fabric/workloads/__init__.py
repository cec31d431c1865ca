"""Mappings of linear algebra onto the array (brief section 4), as array programs."""

from wafer_engine.fabric.workloads.common import (Workload, collect_vector, from_fp16_bits, split,
                                                  to_fp16_bits)
from wafer_engine.fabric.workloads.gemm import check_gemm_shape, collect_matrix, gemm_program
from wafer_engine.fabric.workloads.gemv import gemv_program

__all__ = ["Workload", "collect_vector", "from_fp16_bits", "split", "to_fp16_bits",
           "gemv_program", "gemm_program", "collect_matrix", "check_gemm_shape"]
