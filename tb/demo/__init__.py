"""The demos behind ``make demo`` and ``make demo-kernels``."""
