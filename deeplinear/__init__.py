"""deeplinear: deep linear networks from scratch (filled in as modules land)."""
