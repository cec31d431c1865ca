"""A PyTorch model written the usual way, for `wafer train --model docs/examples/digits_mlp.py:model`."""

import torch.nn as nn

model = nn.Sequential(
    nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
    nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1),
    nn.Linear(64, 10),
)
