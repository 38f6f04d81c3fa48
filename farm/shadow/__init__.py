"""`farm shadow`: a mirroring proxy in front of the legacy gateway whose sampled copies become a sweep's samples.

`proxy.py` forwards every request to legacy and its answer back unchanged, then offers a copy to the mirror;
`mirror.py` turns a copy into a sample (bounded queue, off the response path); `run.py` is the lifecycle.
"""
