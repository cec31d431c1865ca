"""Test harness tops: units wrapped with the ports their testbenches drive."""
