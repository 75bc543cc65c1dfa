"""The web UI: server-rendered pages under ``/ui`` over the services, on the API's port.

``WebUI()`` is the extension the CLI hands to ``neutrino.api.app.create_app`` (``api`` and
``web`` never import each other); it adds the pages and sends browsers that ask for ``/`` with
``Accept: text/html`` to ``/ui``, while API clients keep getting the versions document there.

Modules: ``session`` (cookies, CSRF, forms), ``render`` (templates, errors as pages), one
module of routes per area (``auth``, ``pages``, ``networks``, ``routers``,
``security_groups``, ``topology_pages``), and ``topology`` (the pure layout of the picture).
Templates in ``templates/``, the stylesheet and our one small script in ``static/``.
"""

from neutrino.web.app import WebUI, install

__all__ = ["WebUI", "install"]
