"""The server app with the vmm and the web UI mounted: the composition root that may see
``api``, ``vmm`` and ``web`` (none may import another). ``neutrino serve`` builds its app
here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neutrino.common.settings import Settings


def server_app(settings: Settings, store: Any = None) -> Any:
    """``create_app`` plus the vmm (``/vmm/v1``) on the same database and state dir, and the
    web UI (``/ui``)."""
    from neutrino.api.app import create_app
    from neutrino.vmm.routes import VmmExtension
    from neutrino.vmm.usecases.container import Vmm
    from neutrino.web import WebUI
    from neutrino.web.manager import Manager

    vmm = Vmm.open(
        settings.db_url,
        settings.state_dir,
        device_owner=settings.vmm_device_owner,
        wait_timeout=settings.vmm_port_wait_timeout,
    )
    plug = host_plug(settings.vmm_host_plug)
    if plug is not None:
        vmm.set_host_plug(plug.plug, plug.unplug, plug.prepare)
    return create_app(
        settings, store, extensions=[VmmExtension(vmm), WebUI(Manager(vmm, vmm_caller))]
    )


def host_plug(setting: str) -> Any:
    """The host plug the ``vmm_host_plug`` setting names: None (empty: the hypervisor plugs
    the vNICs itself), or ``lab:DIR``, the namespace lab in DIR. Anything else, or a lab
    that is not there, stops the server at start with the reason."""
    if not setting:
        return None
    kind, _, where = setting.partition(":")
    if kind != "lab" or not where:
        raise ValueError(f"vmm_host_plug: {setting!r} is neither empty nor lab:DIR")
    from neutrino.lab import Lab
    from neutrino.lab.vmmplug import LabHostPlug

    lab = Lab(Path(where))
    lab.state()  # no lab there: LabError, with the reason
    return LabHostPlug(lab)


def vmm_caller(ctx: Any) -> Any:
    """The vmm's ``Caller`` for a web page's verified ``RequestContext`` (the same token
    check the vmm's routes use), so the UI's manager pages obey the vmm's own policy."""
    from neutrino.vmm.usecases.base import Caller

    return Caller(
        user_id=ctx.user_id,
        project_id=ctx.project_id,
        is_admin=ctx.is_admin,
        can_write=ctx.can_write,
    )
