"""neutrino's own API, beside Neutron's: ``/neutrino/v1/...`` (not in Neutron's namespace)."""
