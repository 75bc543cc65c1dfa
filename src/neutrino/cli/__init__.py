"""The ``neutrino`` command (typer + rich): one module per command group, wired in ``main``."""
