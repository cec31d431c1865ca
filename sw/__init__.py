"""Host software: the `wafer` command line and (later) the weight-streaming stack."""
