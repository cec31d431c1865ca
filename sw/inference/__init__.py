"""Weight-stationary inference of a trained MLP on the fabric."""
