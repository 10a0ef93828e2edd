"""labelport: a self-hosted home for labeled ML data whose heart is export."""

__version__ = "0.1.0.dev0"
__all__ = ["__version__"]
