"""Benchmarks: measured tables written into docs/, each with the command that produced it."""
