"""cocotb testbench of the processing element (:class:`rtl.pe.Pe`), its workloads and
benchmarks."""
