"""The vmm's use cases, one module per area; ``Vmm`` (``container``) builds them all."""
