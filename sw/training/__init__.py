"""The host stack of weight streaming: weight store, optimizers, checkpoints, engines, trainer."""
