# amaranth: UnusedElaboratable=no
"""Formal proofs of the PE's input side (SymbiYosys + yices), and checks that they can fail.

k-induction proves for all time that every wavelet taken from the input link is a job taken
by the sequencer, a counted drop, or still on the input side, and that the PE's counters agree;
bounded runs add tracking (the N-th wavelet resolved is the N-th accepted) and task binding.
Each mutant must make sby report a counterexample against the property meant to catch it,
which shows the proofs are not vacuous. See docs/formal.md.
"""

# (The linter line above: test_mutant_must_be_known builds a harness it never elaborates.)

import pytest

from wafer_engine.tb.formal.pe_props import MUTANTS, PeProps
from wafer_engine.tb.formal.sby import expect_fail, expect_pass, run_sby

#: Bounded depth in cycles (from reset) of the exact PE; below 2 ** count_bits (64).
BMC_DEPTH = 16
#: Bounded depth of the short run kept in `make test`.
SHORT_DEPTH = 10
#: Induction length for the prove runs.
PROVE_K = 4

# Source text of the assertion each mutant must violate.
CONSERVATION = "Assert((s.n_in - resolved)[:w] == in_flight[:w])"
CAUGHT_BY = {
    "bound": "Assert(~((s.n_job != 0)",
    "pop_blocked": CONSERVATION,
    "keep_job": CONSERVATION,
    "count_offers": "Assert(pe.counters.wavelets_in[:w] == s.n_in)",
    "miss_error": "Assert(getattr(pe.counters, name)[:w] == counted[kind])",
    "corrupt": "Assert(control | (job.data[:16] == value))",
    "ignore_armed": "((dec.kind == Decoded.NO_TASK) == none(dec.p_color))",
}


def test_prove():
    """Link rules, occupancy, conservation and the counters hold for all time (k-induction)."""
    expect_pass(run_sby("pe_prove", PeProps(inductive=True), mode="prove", depth=PROVE_K))


def test_prove_cfg_any_time():
    """The accounting holds even when the task table is rewritten under traffic."""
    expect_pass(run_sby("pe_prove_cfg_any_time", PeProps(inductive=True, cfg_any_time=True),
                         mode="prove", depth=PROVE_K))


# 2.5 minutes on 2 cores: in `make regress`; the induction proofs and the short bounded run
# stay in `make test`.
@pytest.mark.regress
def test_bmc():
    """Every property, tracking and task binding included, for BMC_DEPTH cycles from reset."""
    expect_pass(run_sby("pe_bmc", PeProps(), depth=BMC_DEPTH))


def test_bmc_short():
    """Every property, tracking and task binding included, for SHORT_DEPTH cycles from reset
    (the input side held by the sequencer is reachable within them)."""
    expect_pass(run_sby("pe_bmc_short", PeProps(), depth=SHORT_DEPTH))


def test_mutants_are_listed():
    assert set(CAUGHT_BY) == set(MUTANTS)


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_bmc_catches_mutant(mutant):
    expect_fail(run_sby(f"pe_mutant_{mutant}", PeProps(mutant=mutant), depth=BMC_DEPTH),
                CAUGHT_BY[mutant])


def test_prove_catches_mutant():
    """A miscounting PE fails within the base case."""
    expect_fail(run_sby("pe_mutant_count_offers_prove",
                         PeProps(inductive=True, mutant="count_offers"),
                         mode="prove", depth=PROVE_K), CAUGHT_BY["count_offers"])


def test_prove_induction_sees_loss():
    """A PE that loses a wavelet needs more than PROVE_K cycles from reset to show it (the
    base case passes), but the induction step finds a state that breaks conservation: sby says
    UNKNOWN, where the real PE's induction passes."""
    result = run_sby("pe_mutant_pop_blocked_prove", PeProps(inductive=True, mutant="pop_blocked"),
                     mode="prove", depth=PROVE_K)
    assert result.status == "UNKNOWN", str(result)
    assert any(CONSERVATION in line for line in result.failed_source()), str(result)


def test_mutant_must_be_known():
    with pytest.raises(ValueError, match=r"^Mutant must be one of bound, .*, not 'nope'$"):
        PeProps(mutant="nope")
