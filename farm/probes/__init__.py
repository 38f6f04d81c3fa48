"""Probes: pure comparisons of two gateways' answers, one module per endpoint family."""
