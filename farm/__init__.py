"""The probe farm: statistical parity between a legacy gateway and its rewrite, and drift-checked audits."""

__version__ = "0.1.0"
__all__ = ["__version__"]
