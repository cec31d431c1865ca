"""Floating-point units of the processing element: fp16 x fp16 -> fp32 products, fp32 sums,
fp32 -> fp16 conversion and fp32 ReLU, each a fixed-latency pipeline matching
:mod:`fabric.fp_model` bit for bit (policy in docs/arithmetic.md)."""

from .add32 import Fp32Add
from .mul16 import Fp16Mul
from .relu import Fp32Relu, relu32
from .to16 import Fp32ToFp16

__all__ = ["Fp16Mul", "Fp32Add", "Fp32ToFp16", "Fp32Relu", "relu32"]
