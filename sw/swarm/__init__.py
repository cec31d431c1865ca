"""The SwarmX role: several fabrics training data-parallel, and the cost model of a step."""
