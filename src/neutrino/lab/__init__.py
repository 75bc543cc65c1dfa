"""``neutrino lab``: hypervisors as network namespaces on one machine, for users and e2e tests.

* ``netns``      — the kernel plumbing (``ip``): namespaces, the underlay, VM veth pairs;
* ``state``      — the on-disk record of what a lab made (``lab.json`` in the lab dir);
* ``supervisor`` — the detached process that runs (and restarts) the controller and agents;
* ``runtime``    — ``Lab``: ``up``, ``down``, ``status``;
* ``teardown``   — stopping the lab's processes, removing its namespaces and record;
* ``status``     — what runs and in what state;
* ``vms``        — VMs: ``create_vm`` (port, namespace, DHCP), ``delete_vm``, ``exec_vm``.

The lab uses the controller named by the ``OS_*`` environment, or starts its own. It only
ever uses documentation ranges (198.51.100.0/24 for the underlay) inside its namespaces.
"""

from neutrino.lab.netns import LabError
from neutrino.lab.runtime import Lab, StatusRow, credentials_from_env
from neutrino.lab.state import HostRecord, LabState, VmRecord
from neutrino.lab.vms import Lease, create_vm, delete_vm, exec_vm

__all__ = [
    "HostRecord",
    "Lab",
    "LabError",
    "LabState",
    "Lease",
    "StatusRow",
    "VmRecord",
    "create_vm",
    "credentials_from_env",
    "delete_vm",
    "exec_vm",
]
