"""FPGA tops: the array behind a UART host link on a board, and the iCE40 pin wrapper."""
