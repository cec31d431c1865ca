"""cocotb testbenches, drivers and monitors, and the glue that runs them on Verilator."""
