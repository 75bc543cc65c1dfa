"""Internal DNS names of ports (Neutron's ``dns-integration`` and ``dns-domain-ports``): the
rules, with no I/O.

Who uses what:

* the API converters (``dns_name``, ``dns_domain``, ``fip_dns_name``) lower-case a value
  and check it as Neutron does: labels of 1-63 characters ``[a-z0-9-]`` (or one of the
  ``<project_id>``-style keywords), no leading or trailing hyphen, no empty label, at most
  255 characters without the trailing dot, no all-numeric top label; a domain must end
  with a dot and leave room for a sub-domain;
* ``DnsConfig`` is the controller's ``dns_domain`` setting, normalized (a trailing dot
  added). As in Neutron, port names are in use only when that domain is set and is not the
  default ``openstacklocal.``: otherwise a port's ``dns_name`` and ``dns_domain`` are
  dropped at write time and every port is ``host-<address>``;
* ``assignment`` is a port's ``dns_assignment`` (hostname, address, FQDN per fixed IP);
  the API shows it and the DHCP agent's dnsmasq serves the same names (``agent.dhcp_calc``).

A network's ``dns_domain`` and a port's ``dns_domain`` are stored and shown, and change no
name neutrino serves: in Neutron they are for an external DNS service, which neutrino
does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import BadRequest, InvalidInput, excerpt
from neutrino.domain.attributes import Invalid, described

DEFAULT_DOMAIN = "openstacklocal."
FQDN_MAX = 255
LABEL_MAX = 63
KEYWORDS = ("project_id", "project_name", "user_name", "user_id")
_LABEL = re.compile(rf"^([a-z0-9-]{{1,{LABEL_MAX}}}|" + "|".join(f"<{k}>" for k in KEYWORDS) + ")$")
_NUMERIC = re.compile(r"^[0-9]+$")


def host_label(ip_address: str) -> str:
    """The name of a port without ``dns_name``: ``host-192-0-2-11``, ``host-2001-db8--11``."""
    return "host-" + ip_address.replace(".", "-").replace(":", "-")


def lowered(value: Any) -> str:
    """Neutron's ``convert_string_to_case_insensitive``: a string, lower-cased."""
    if not isinstance(value, str):
        raise InvalidInput(f"Input value {excerpt(value)} must be string type")
    return value.lower()


def format_error(data: str, max_len: int = FQDN_MAX) -> str | None:
    """Why ``data`` is not a PQDN or FQDN (Neutron's wording), or None."""
    if not data:
        return None
    trimmed = data[:-1] if data.endswith(".") else data
    reason = _format_reason(trimmed, max_len)
    if reason is None:
        return None
    return f"'{excerpt(data)}' not a valid PQDN or FQDN. Reason: {reason}"


def _format_reason(trimmed: str, max_len: int) -> str | None:
    if len(trimmed) > max_len:
        return f"'{excerpt(trimmed)}' exceeds the {max_len} character FQDN limit"
    labels = trimmed.split(".")
    for label in labels:
        if not label:
            return "Encountered an empty component"
        if label.startswith("-") or label.endswith("-"):
            return f"Name '{excerpt(label)}' must not start or end with a hyphen"
        if not _LABEL.match(label):
            return (
                f"Name '{excerpt(label)}' must be 1-63 characters long, each of which can "
                "only be alphanumeric or a hyphen"
            )
    if len(labels) > 1 and _NUMERIC.match(labels[-1]):
        return f"TLD '{excerpt(labels[-1])}' must not be all numeric"
    return None


def name_error(data: str) -> str | None:
    """A port's ``dns_name`` (already lower-cased), format only."""
    return format_error(data)


def domain_error(data: str) -> str | None:
    """A network's, port's or floating IP's ``dns_domain``: an FQDN with room for a label."""
    if not data:
        return None
    if not data.endswith("."):
        return f"'{excerpt(data)}' is not a FQDN"
    error = format_error(data)
    if error is None and len(data) > FQDN_MAX - 2:
        return (
            f"'{excerpt(data)}' contains {len(data)} characters. Adding a sub-domain will "
            f"cause it to exceed the maximum length of a FQDN of '{FQDN_MAX}'"
        )
    return error


def fip_name_error(data: str) -> str | None:
    """A floating IP's ``dns_name``: a relative name with room for a domain."""
    if not data:
        return None
    if data.endswith("."):
        return f"'{excerpt(data)}' is a FQDN. It should be a relative domain name"
    error = format_error(data)
    if error is None and len(data) > FQDN_MAX - 3:
        return (
            f"'{excerpt(data)}' contains {len(data)} characters. Adding a domain name will "
            f"cause it to exceed the maximum length of a FQDN of '{FQDN_MAX}'"
        )
    return error


@dataclass(frozen=True)
class DnsConfig:
    """The controller's ``dns_domain`` setting, normalized: ``""`` or ending with a dot."""

    domain: str = DEFAULT_DOMAIN

    @classmethod
    def parse(cls, setting: str) -> DnsConfig:
        """Neutron's reading of ``dns_domain``: a trailing dot added; checked as a domain
        (a bad setting stops the server at start, not at the first port)."""
        domain = setting.strip().lower()
        if domain and not domain.endswith("."):
            domain += "."
        error = domain_error(domain)
        if error is not None:
            raise ValueError(f"dns_domain: {error}")
        return cls(domain)

    @property
    def names_enabled(self) -> bool:
        """Whether ports may have names of their own: a domain other than the default."""
        return bool(self.domain) and self.domain != DEFAULT_DOMAIN

    def check_name(self, dns_name: str) -> None:
        """The part of Neutron's ``dns_name`` check that needs the domain: a PQDN must fit
        with it into 255 characters, an FQDN must end with it (400 otherwise)."""
        if not dns_name or not self.names_enabled:
            return
        higher = f".{self.domain}"
        if not dns_name.endswith("."):
            if len(dns_name) + len(higher) > FQDN_MAX:
                _invalid(
                    f"The dns_name passed is a PQDN and its size is '{len(dns_name)}'. The "
                    f"dns_domain option in neutron.conf is set to {self.domain}, with a length "
                    f"of '{len(higher)}'. When the two are concatenated to form a FQDN (with a "
                    f"'.' at the end), the resulting length exceeds the maximum size of "
                    f"'{FQDN_MAX}'"
                )
            return
        if len(dns_name) <= len(higher) or not dns_name.endswith(higher):
            _invalid(
                "The dns_name passed is a FQDN. Its higher level labels must be equal to the "
                f"dns_domain option in neutron.conf, that has been set to '{self.domain}'. It "
                "must also include one or more valid DNS labels to the left of "
                f"'{self.domain}'"
            )

    def assignment(self, fixed_ips: Iterable[str], dns_name: str) -> list[dict[str, str]]:
        """A port's ``dns_assignment``: for each address, its hostname and FQDN."""
        return [self.names_of(ip, dns_name) for ip in fixed_ips]

    def names_of(self, ip_address: str, dns_name: str) -> dict[str, str]:
        name = dns_name if self.names_enabled else ""
        if name:
            fqdn = name if name.endswith(".") else f"{name}.{self.domain}"
            return {"hostname": name, "ip_address": ip_address, "fqdn": fqdn}
        hostname = host_label(ip_address)
        fqdn = f"{hostname}.{self.domain}" if self.domain else hostname
        return {"hostname": hostname, "ip_address": ip_address, "fqdn": fqdn}


def _invalid(reason: str) -> None:
    raise BadRequest(f"Invalid input for dns_name. Reason: {reason}.")


# --- converters (``domain.attributes``): lower-cased, then checked as Neutron does


_SCHEMA = {"type": "string", "maxLength": FQDN_MAX + 1}


@described(_SCHEMA)
def dns_name(value: Any) -> str:
    """A port's ``dns_name`` (the domain-dependent part: ``DnsConfig.check_name``)."""
    return _checked(lowered(value), name_error)


@described(_SCHEMA)
def dns_domain(value: Any) -> str:
    return _checked(lowered(value), domain_error)


@described(_SCHEMA)
def fip_dns_name(value: Any) -> str:
    return _checked(lowered(value), fip_name_error)


def _checked(value: str, error_of: Any) -> str:
    error = error_of(value)
    if error is not None:
        raise Invalid(error)
    return value
