"""The RTL on Verilator through cocotb: the simulator launcher, the runner and the array driver."""
