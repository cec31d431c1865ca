"""FPGA board tops: the array behind a UART host link."""
