"""``neutrino.vmm``: the virtualization-manager side (what oVirt's engine does with an external
network provider), as a bounded context of its own.

    routes (HTTP, /vmm/v1)  ──>  usecases (providers, inventory, networks, vms, sync)
                                   │            │
                                   v            v
                            storage/ (SQLAlchemy,      provider (Neutron + Keystone over
                            vmm_* tables, own          HTTP through neutrino.client)
                            Alembic history)
    pure rules: model, macpool, scheduling, libvirt, secrets

It reaches every provider, neutrino itself included, only over HTTP; it never reads a
provider's tables. Its own tables carry the ``vmm_`` prefix and its migrations their own
version table (``vmm_alembic_version``), so they never collide with the controller's.
"""
