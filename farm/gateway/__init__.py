"""Gateways: the HTTP client that probes them, and the demo gateways users try the farm on."""
