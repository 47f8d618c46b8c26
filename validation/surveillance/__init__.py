"""Post-market surveillance: frozen baseline, drift signals, control limits, alerts and report."""
