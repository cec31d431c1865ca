"""Formal proofs of the router (SymbiYosys + yices), and checks that they can fail.

Bounded proofs cover every property for 20 cycles from reset; k-induction proves all but
tracking and per-source conservation for all time. Each mutant must make sby report a
counterexample against the property meant to catch it, which shows the proofs are not vacuous:
the assumptions leave room for traffic, and the properties do see drops, corruption, filter
bugs, a router that forgets which outputs took a multicast head, one whose ready forgets the
wavelet in its arrival register and one whose arrival register takes offers that were not
transfers. See docs/formal.md.
"""

import pytest

from wafer_engine.tb.formal.router_props import FILTERED_ROUTES, MUTANTS, OPEN_ROUTES, RouterProps
from wafer_engine.tb.formal.sby import expect_fail, expect_pass, run_sby

#: Bounded depth in cycles; must stay below 2 ** count_bits (64) for exact tracking.
BMC_DEPTH = 20
#: Induction length for the prove runs.
PROVE_K = 4

ROUTE_SETS = {"open": OPEN_ROUTES, "filtered": FILTERED_ROUTES}

# Source text of the assertion each mutant must violate.
CONSERVATION = "s.n_out_all[q, c])[:width]"
TRACKING = "Assert(s.payload[q] == payload)"
STORED_MASK = "(entry.mask == expected)"
ROOM = "Assert((held != router.depth) | ~router.i[p].ready[c])"
ARRIVAL = "Assert(push == s.xin_before[p, c])"
CAUGHT_BY = {
    "bound": "s.n_out_all[Port.E, 0] < 2",
    "drop": CONSERVATION,
    "corrupt_E": TRACKING,
    "corrupt_N": TRACKING,
    "corrupt_RAMP": TRACKING,
    "hi_exclusive": STORED_MASK,
    "forget_sent": CONSERVATION,
    "stage_blind": ROOM,
    "ungated_arrival": ARRIVAL,
}
#: Harness options a mutant needs to show: an ungated arrival register only differs from the
#: router when a sender offers a color that is not ready.
MUTANT_OPTIONS = {"ungated_arrival": {"strict_senders": False}}


def test_bmc_open():
    """Both colors tracked: multicast N -> E, S, RAMP and the W + S -> N merge."""
    expect_pass(run_sby("bmc_open", RouterProps(OPEN_ROUTES), depth=BMC_DEPTH))


def test_bmc_filtered():
    """RAMP range filter; color 1 is routed as in test_bmc_open, so only color 0 is tracked."""
    expect_pass(run_sby("bmc_filtered", RouterProps(FILTERED_ROUTES, track_colors=[0]),
                         depth=BMC_DEPTH))


@pytest.mark.parametrize("routes", sorted(ROUTE_SETS))
def test_prove(routes):
    """Link rules, buffer rules (stored delivery masks included) and summed conservation, at a
    filtered RAMP too, hold for all time (k-induction)."""
    expect_pass(run_sby(f"prove_{routes}", RouterProps(ROUTE_SETS[routes], inductive=True),
                         mode="prove", depth=PROVE_K))


def test_mutants_are_listed():
    assert set(CAUGHT_BY) == set(MUTANTS)


# The filter mutant needs a filter; corrupting RAMP under a filter shows the filtered tracking
# check is live too.
MUTANT_RUNS = ([("open", mutant) for mutant in sorted(MUTANTS) if mutant != "hi_exclusive"]
               + [("filtered", "hi_exclusive"), ("filtered", "corrupt_RAMP")])


@pytest.mark.parametrize("routes,mutant", MUTANT_RUNS, ids=[f"{r}-{m}" for r, m in MUTANT_RUNS])
def test_bmc_catches_mutant(routes, mutant):
    harness = RouterProps(ROUTE_SETS[routes], mutant=mutant, **MUTANT_OPTIONS.get(mutant, {}))
    expect_fail(run_sby(f"mutant_{routes}_{mutant}", harness, depth=BMC_DEPTH), CAUGHT_BY[mutant])


def test_prove_tracking_is_not_inductive():
    """The full harness is out of reach of k-induction (tracking relates modular counters to
    a sequence number chosen once, which an arbitrary induction start state can contradict),
    which also shows the induction step is not vacuous: it finds a counterexample."""
    result = run_sby("prove_full", RouterProps(OPEN_ROUTES), mode="prove", depth=PROVE_K)
    assert result.status == "UNKNOWN", str(result)


def test_prove_catches_mutant():
    """The base case must reach the dropped wavelet: with the 2-cycle hop the second color-0
    wavelet leaves E in cycle 3 at the earliest, so the miscount shows in cycle 4, one step
    beyond PROVE_K (an induction failure alone is only UNKNOWN)."""
    expect_fail(run_sby("mutant_drop_prove",
                         RouterProps(OPEN_ROUTES, inductive=True, mutant="drop"),
                         mode="prove", depth=PROVE_K + 1), CONSERVATION)


@pytest.mark.parametrize("mutant", ["forget_sent", "stage_blind"])
def test_prove_catches_router_mutant(mutant):
    """A fault in the router itself (not in the checker) breaks the inductive invariants too."""
    expect_fail(run_sby(f"mutant_{mutant}_prove",
                         RouterProps(OPEN_ROUTES, inductive=True, mutant=mutant),
                         mode="prove", depth=PROVE_K), CAUGHT_BY[mutant])


# About as long as test_bmc_open, of which it is a variant: in `make regress`.
@pytest.mark.regress
def test_bmc_senders_may_offer_unready_colors():
    """The link protocol lets a sender offer a color that is not ready; nothing transfers."""
    expect_pass(run_sby("bmc_any_sender", RouterProps(OPEN_ROUTES, strict_senders=False),
                         depth=BMC_DEPTH))


def test_unknown_mutant_is_rejected():
    with pytest.raises(ValueError, match=r"^Mutant must be one of bound, drop, corrupt_E, "
                                         r"corrupt_N, corrupt_RAMP, hi_exclusive, forget_sent, "
                                         r"stage_blind, ungated_arrival, not 'nope'$"):
        RouterProps(OPEN_ROUTES, mutant="nope")
