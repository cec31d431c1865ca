"""Where a workload runs: the golden model, the RTL on Verilator, or a board."""
