"""Which proxy reaches a URL: the environment as curl and the Slack client read it.

>>> proxy_for("http://127.0.0.1:8765/v1") is None  # loopback: always direct
True
"""

from __future__ import annotations

import ipaddress
import urllib.request
from urllib.parse import urlsplit

from aom_bot.errors import ConfigError

__all__ = ["proxy_for"]


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bypassed(host: str, no_proxy: str) -> bool:
    """NO_PROXY as curl reads it: ``*``, domains (``example.com`` and ``.example.com`` both
    match subdomains), IP addresses and CIDR ranges; a ``:port`` suffix is ignored."""
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            host.strip("[]")
        )
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        domain = domain.lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def proxy_for(url: str) -> str | None:
    """The proxy for ``url`` from the environment, as curl and the Slack client read it:
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` by scheme, else ``ALL_PROXY``, unless ``NO_PROXY`` matches
    the host (lower-case names work too). Loopback addresses are always reached directly."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or _is_loopback(host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or _bypassed(host, proxies.get("no", "")):
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    if urlsplit(proxy).scheme not in ("http", "https"):
        raise ConfigError(
            f"The proxy for {host} is not an http:// or https:// proxy.",
            hint="Set HTTPS_PROXY (or HTTP_PROXY) to http://host:port, or exempt the host with "
            "NO_PROXY.",
        )
    return proxy
