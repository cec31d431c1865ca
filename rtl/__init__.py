"""Amaranth components of the wafer-scale dataflow engine."""
