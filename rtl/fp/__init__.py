"""Floating-point units of the processing element: fp16 x fp16 -> fp32 products, fp32 sums,
fp32 -> fp16 conversion and fp32 ReLU, each a fixed-latency pipeline matching
:mod:`wafer_engine.fabric.model.fp_model` bit for bit (policy in docs/arithmetic.md)."""

from wafer_engine.rtl.fp.add32 import Fp32Add
from wafer_engine.rtl.fp.mul16 import Fp16Mul
from wafer_engine.rtl.fp.relu import Fp32Relu, relu32
from wafer_engine.rtl.fp.to16 import Fp32ToFp16

__all__ = ["Fp16Mul", "Fp32Add", "Fp32ToFp16", "Fp32Relu", "relu32"]
