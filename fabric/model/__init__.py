"""The fabric in software: bit- and cycle-exact models of every block, and fast functional models."""
