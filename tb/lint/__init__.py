"""Verilator lint of the generated Verilog."""
