"""The UART: the Python model, parameter checks, and the RTL on Verilator against the model."""

import re

import pytest

from wafer_engine.fabric.model.uart_model import UartDecoder, character_bits, decode_line, tx_waveform
from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.rtl.uart import UartRx, UartTx, divisor_for
from wafer_engine.sw.sim.runner import run_cocotb
from wafer_engine.rtl.harness.uart_pair import UartPair


@pytest.mark.parametrize("divisor", [4, 7])
def test_uart_rtl(divisor):
    run_cocotb(unit="uart", config_name=f"d{divisor}",
               verilog_path=lambda folder: write_verilog(UartPair(divisor), "uart", folder),
               toplevel="uart",
               test_module="wafer_engine.tb.uart.test_uart", params={"divisor": divisor, "seed": divisor})


def test_character_bits_lsb_first_with_start_and_stop():
    assert character_bits(0x01) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert character_bits(0xA0) == [0, 0, 0, 0, 0, 0, 1, 0, 1, 1]


@pytest.mark.parametrize("divisor", [4, 5, 217])
def test_model_round_trip(divisor):
    data = bytes(range(256))
    assert decode_line([1] * 3 + tx_waveform(data, divisor) + [1] * divisor, divisor) == data


def test_model_counts_a_low_stop_bit_and_recovers():
    d = 4
    bad = [0] * d + [1] * (8 * d) + [0] * (2 * d) + [1] * d        # 0xFF with a low stop bit
    decoder = UartDecoder(d)
    got = [b for b in map(decoder.step, bad + tx_waveform(b"\x42", d) + [1] * d) if b is not None]
    assert got == [0x42] and decoder.frame_errors == 1


def test_divisor_for_standard_rates():
    assert divisor_for(25e6, 115200) == 217
    assert divisor_for(12e6, 115200) == 104


@pytest.mark.parametrize("cls", [UartTx, UartRx])
@pytest.mark.parametrize("bad", [3, 0, (1 << 16) + 1, 4.0, True, "8"])
def test_bad_divisor(cls, bad):
    message = ("UART divisor (clock cycles per bit) must be an integer between 4 and 65536, "
               f"not {bad!r}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        cls(bad)


def test_baud_rate_too_far_off():
    with pytest.raises(ValueError, match=r"^Baud rate 3000000 is 4\.2 % off at 25000000 Hz "
                                         r"\(divisor 8\); the limit is 2 %$"):
        divisor_for(25e6, 3000000)


def test_character_out_of_range():
    with pytest.raises(ValueError, match=r"^A UART character must be an integer between 0 and "
                                         r"255, not 256$"):
        character_bits(256)
