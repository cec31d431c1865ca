"""Arrays of tiles, their configuration, the bit-exact golden model and Verilog generation."""
