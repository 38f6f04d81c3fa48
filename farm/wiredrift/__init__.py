"""Wire-drift inference: the catalog of URL, field, type, scale and order differences between two gateways,
and the adapter map that reshapes candidate responses into the legacy shape, inferred from real traffic."""

from farm.wiredrift.adapter import apply_adapter
from farm.wiredrift.observer import DOC_BATCHES, DriftObserver
from farm.wiredrift.rows import DriftRow, render_catalog

__all__ = ["DOC_BATCHES", "DriftObserver", "DriftRow", "apply_adapter", "render_catalog"]
