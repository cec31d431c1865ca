"""Flows that turn the RTL into files: Verilog, synthesis, place-and-route, board bitstreams."""
