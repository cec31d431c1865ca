"""A simulated serial port on the board top's ``rx``/``tx`` pins, for the FPGA backend.

:class:`SimSerial` has the transport interface :func:`wafer_engine.sw.backends.fpga.run_fpga` expects
(``write(data)``, ``read(n)``), callable from a thread started with ``cocotb.task.bridge``.
One coroutine drives ``rx`` with the line levels of the written bytes
(:func:`wafer_engine.fabric.model.uart_model.tx_waveform`) and decodes ``tx`` with
:class:`wafer_engine.fabric.model.uart_model.UartDecoder`, both once per clock cycle at the falling edge.
"""

from collections import deque

import cocotb
from cocotb.task import resume
from cocotb.triggers import FallingEdge

from wafer_engine.fabric.model.uart_model import UartDecoder, character_bits

__all__ = ["SimSerial"]


class SimSerial:
    """``divisor`` clock cycles per bit; ``timeout`` is the clock cycles a ``read`` waits for
    its first byte before it returns ``b""`` (as pyserial's ``timeout``)."""

    def __init__(self, dut, divisor, timeout=200_000):
        self.dut, self.divisor, self.timeout = dut, divisor, timeout
        self._levels = deque()
        self._received = bytearray()
        self._decoder = UartDecoder(divisor)
        self.cycles = 0
        self.bytes_written = self.bytes_read = 0

    def start(self):
        cocotb.start_soon(self._line())

    async def _line(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            dut.rx.value = self._levels.popleft() if self._levels else 1
            byte = self._decoder.step(int(dut.tx.value))
            if byte is not None:
                self._received.append(byte)
            self.cycles += 1

    async def _write(self, data):
        for byte in data:
            for bit in character_bits(byte):
                self._levels.extend([bit] * self.divisor)
        self.bytes_written += len(data)

    async def _read(self, n):
        waited = 0
        while not self._received and waited < self.timeout:
            await FallingEdge(self.dut.clk)
            waited += 1
        got = bytes(self._received[:n])
        del self._received[:n]
        self.bytes_read += len(got)
        return got

    def write(self, data):
        resume(self._write)(bytes(data))

    def read(self, n):
        return resume(self._read)(n)
