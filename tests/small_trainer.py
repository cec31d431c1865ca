"""A trainer on a 2 x 2 array small enough for the golden backend, shared by the tests of
training runs cut into several array runs (tests/test_training_passes.py) and of the host
traffic they cause (tests/test_training_traffic.py)."""

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.training.engines import FabricEngine
from wafer_engine.sw.training.mlp import from_sizes, he_init
from wafer_engine.sw.training.optim import Sgd
from wafer_engine.sw.training.trainer import Trainer
from wafer_engine.sw.training.weight_store import WeightStore

__all__ = ["ROWS", "COLS", "BATCH", "ONE_RUN", "SEVERAL_RUNS", "small_trainer"]

ROWS, COLS, BATCH = 2, 2, 6
#: A PE the tests' layers (up to 12 outputs) fit in one run each: drains of M x batch slice,
#: at most 12 x 3 accumulators.
ONE_RUN = dict(colors=3, mem_words=256, acc_words=64, max_len=64)
#: Drains of at most 8 accumulators: 2 output rows per run, so every product takes several runs.
SEVERAL_RUNS = dict(ONE_RUN, max_len=8)


def small_trainer(backend, pe, sizes, seed, bias=False):
    """SGD (lr 0.5) on an MLP of layer ``sizes`` (He init from ``seed``, 50 % of weights kept
    zero), batch BATCH, on a ROWS x COLS array of PEs ``pe`` (a dict of PeParams fields) run by
    ``backend``."""
    rng = np.random.default_rng(seed)
    spec = from_sizes(sizes, bias=bias)
    store = WeightStore(spec, he_init(spec, rng), 0.5, Sgd.state_names)
    engine = FabricEngine(backend, ArrayParams.build(rows=ROWS, cols=COLS, **pe))
    return Trainer(store, Sgd(lr=0.5), engine, batch=BATCH)
