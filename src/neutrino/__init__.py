"""neutrino: networking-as-a-service for virtualization platforms."""

__version__ = "0.1.0"
