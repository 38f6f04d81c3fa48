"""The fault proxy in a thread of the test process (real sockets on loopback), for the many-fault matrix: a
process per fault would cost a second of start-up each. `farm gateways faults` itself is tested as a process."""

from farm.gateway.faults import proxy_in_thread as fault_proxy

__all__ = ["fault_proxy"]
