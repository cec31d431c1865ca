"""cocotb testbench of the processing element (:class:`wafer_engine.rtl.pe.Pe`), its workloads and
benchmarks."""
