"""nspgw: secure store-and-forward radio backbone for Dutch noodsteunpunten (emergency support points)."""

__version__ = "0.1.0"
