"""The parameter objects: validation at construction, repr that rebuilds, flat names, defaults
written once, and the command-line flags generated from them."""

import argparse
import re
import subprocess
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from wafer_engine.rtl.params import ArrayParams, PeParams
from wafer_engine.sw.cli.array_flags import ARRAY_FIELDS, add_array_flags, array_params, flag
from wafer_engine.sw.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def exact(message):
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize("name,value,text", [
    ("rows", 0, "Row count must be an integer between 1 and 1024, not 0"),
    ("cols", 1025, "Column count must be an integer between 1 and 1024, not 1025"),
    ("cols", "2", "Column count must be an integer between 1 and 1024, not '2'"),
    ("depth", 0, "Buffer depth must be an integer between 1 and 64, not 0"),
    ("rows", True, "Row count must be an integer between 1 and 1024, not True"),
])
def test_array_parameter_out_of_range(name, value, text):
    with pytest.raises(ValueError, match=exact(text)):
        ArrayParams(**{name: value})
    with pytest.raises(ValueError, match=exact(text)):
        ArrayParams.build(**{name: value})


def test_pe_must_be_a_pe_params():
    with pytest.raises(TypeError, match=exact("pe must be a PeParams, not {'colors': 3}")):
        ArrayParams(pe={"colors": 3})


def test_build_takes_flat_names_and_ignores_none():
    p = ArrayParams.build(rows=2, cols=3, colors=5, max_len=None, depth=4)
    assert (p.rows, p.cols, p.depth, p.colors, p.pe.max_len) == (2, 3, 4, 5, 64)
    assert p.replace(rows=1, mem_words=8) == ArrayParams.build(rows=1, cols=3, depth=4,
                                                               colors=5, mem_words=8)
    with pytest.raises(TypeError, match=exact("Unknown parameter 'colours'")):
        ArrayParams.build(colours=3)


def test_frozen_hashable_and_repr_rebuilds():
    p = ArrayParams.build(rows=2, colors=3, in_depth=2)
    assert eval(repr(p)) == p and hash(eval(repr(p))) == hash(p)
    with pytest.raises(FrozenInstanceError):
        p.rows = 3
    assert p.flat() == dict(rows=2, cols=4, depth=3, colors=3, mem_words=4096, acc_words=1024,
                            max_len=64, in_depth=2, out_depth=16)


def _source_files():
    out = subprocess.run(["git", "ls-files", "rtl", "fabric", "sw", "tb"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in out if f.endswith(".py")]


@pytest.mark.parametrize("name,default", [("colors", 4), ("mem_words", 4096),
                                          ("acc_words", 1024), ("max_len", 64)])
def test_each_default_is_written_once(name, default):
    """``name=default`` (or ``name: int = ...(default``) appears in the source only where the
    parameter object defines it."""
    pattern = re.compile(rf"\b{name}\b\s*(?::\s*int\s*)?=\s*(?:_param\()?{default}\b"
                         rf"|get\(['\"]{name}['\"],\s*{default}\)")
    sites = [f"{path.relative_to(ROOT)}:{n}" for path in _source_files()
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert [s.split(":")[0] for s in sites] == ["rtl/params.py"], sites


def test_flags_are_generated_from_the_fields():
    parser = argparse.ArgumentParser()
    add_array_flags(parser, ArrayParams())
    helps = {a.dest: a.help for a in parser._actions if a.dest != "help"}
    assert sorted(helps) == sorted(f.name for f in ARRAY_FIELDS)
    assert helps["mem_words"] == "PE memory in 16-bit words, 1..65536 (default 4096)"
    args = parser.parse_args(["--rows", "2", "--in-depth", "8"])
    assert array_params(args, ArrayParams()) == ArrayParams.build(rows=2, in_depth=8)
    assert flag("max_len") == "--max-len"


@pytest.mark.parametrize("argv,message", [
    (["--rows", "0"], "--rows 0: Row count must be an integer between 1 and 1024, not 0"),
    (["--depth", "65"], "--depth 65: Buffer depth must be an integer between 1 and 64, not 65"),
    (["--mem-words", "0"], "--mem-words 0: Memory size (words) must be an integer between 1 "
                           "and 65536, not 0"),
])
def test_bad_flag_names_the_flag(argv, message):
    parser = argparse.ArgumentParser()
    add_array_flags(parser, ArrayParams())
    with pytest.raises(ValueError, match=exact(message)):
        array_params(parser.parse_args(argv), ArrayParams())


@pytest.mark.parametrize("argv,message", [
    (["--top", "cpu"], "--top must be one of router, pe, tile, array, not 'cpu'"),
    (["--top", "array", "--rows", "1", "--depth", "0"],
     "--depth 0: Buffer depth must be an integer between 1 and 64, not 0"),
    (["--top", "router", "--mem-words", "64"],
     "--mem-words does not apply to --top router (it takes --colors, --depth)"),
    (["--top", "pe", "--rows", "2"], "--rows does not apply to --top pe (it takes --acc-words, "
                                     "--colors, --in-depth, --max-len, --mem-words, "
                                     "--out-depth)"),
])
def test_verilog_refuses_bad_and_contradictory_flags(argv, message, tmp_path, capsys):
    assert main(["verilog", *argv, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"wafer verilog: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_every_command_takes_the_same_array_flags():
    from wafer_engine.sw.cli.main import build_parser
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("verilog", "gemv", "gemm", "synth", "train", "infer"):
        dests = {a.dest for a in commands[name]._actions}
        assert {f.name for f in ARRAY_FIELDS} <= dests, name
