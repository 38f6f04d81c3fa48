"""The flip: an adapter map as a versioned document (`document.py`) and the proxy that serves it in front of
the candidate, speaking the legacy wire (`proxy.py`)."""
