"""Fast functional models of the workload mappings: the same bits as the cycle-exact array model
in a fraction of the time, with analytical cycle estimates (docs/workloads.md)."""
