"""Which proxy kubectl would use for an API server: the kubeconfig's ``proxy-url``, else Go's
environment rules (golang.org/x/net/http/httpproxy ``FromEnvironment``/``useProxy``)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from kubectl_userns.access.restconfig import RestConfig


def _env(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name, "")
        if value:
            return value
    return ""


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback  # Go's IsLoopback looks through a mapped IPv4
    return ip.is_loopback


def _split_host_port(entry: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort for ``host:port`` and ``[v6]:port``; None without a port."""
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0 or not entry[end + 1 :].startswith(":"):
            return None
        return entry[1:end], entry[end + 2 :]
    if entry.count(":") != 1:
        return None
    host, port = entry.split(":")
    return host, port


def bypasses_proxy(host: str, port: str, no_proxy: str) -> bool:
    """Whether Go's http.ProxyFromEnvironment would go direct to ``host:port``."""
    host = host.strip().lower().strip("[]")
    if host == "localhost":
        return True
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and _is_loopback(ip):
        return True
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                network = None
            if network is not None:
                if ip is not None and ip.version == network.version and ip in network:
                    return True
                continue
        split = _split_host_port(entry)
        if split is not None:
            entry_host, entry_port = split
            if not entry_host:
                continue
        else:
            entry_host, entry_port = entry, ""
        try:
            entry_ip = ipaddress.ip_address(entry_host)
        except ValueError:
            entry_ip = None
        if entry_ip is not None:
            if ip is not None and ip == entry_ip and entry_port in ("", port):
                return True
            continue
        if entry_host.startswith("*."):
            entry_host = entry_host[1:]
        match_host = not entry_host.startswith(".")
        suffix = entry_host if not match_host else "." + entry_host
        if (host.endswith(suffix) or (match_host and host == suffix[1:])) and entry_port in (
            "",
            port,
        ):
            return True
    return False


def default_port(scheme: str) -> str:
    return {"http": "80", "https": "443", "socks5": "1080"}.get(scheme, "")


def proxy_for(config: RestConfig, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL kubectl would use for ``config.server``, or None to go direct."""
    if config.proxy_url:
        return config.proxy_url
    env = os.environ if env is None else env
    parts = urlsplit(config.server)
    if parts.scheme == "https":
        proxy = _env(env, "HTTPS_PROXY", "https_proxy")
    else:
        proxy = _env(env, "HTTP_PROXY", "http_proxy")
        if proxy and env.get("REQUEST_METHOD"):
            return None  # Go refuses HTTP_PROXY in a CGI environment
    if not proxy:
        return None
    port = str(parts.port or default_port(parts.scheme))
    if bypasses_proxy(parts.hostname or "", port, _env(env, "NO_PROXY", "no_proxy")):
        return None
    # Go's parseProxy: a value without a known scheme is taken as http://value
    try:
        scheme = urlsplit(proxy).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https", "socks5"):
        proxy = "http://" + proxy
    return proxy
