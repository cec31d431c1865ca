"""The ``wafer`` command line."""
