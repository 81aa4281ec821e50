"""The effective OpenSSH client options for one host, as the user's own ``ssh`` would use them.

With the OpenSSH client installed they come from ``ssh -G`` (run with an argument list, never a
shell string, on validated host names): OpenSSH itself then applies ``Match`` (``exec`` too),
``Include``, canonicalisation, the system-wide ``/etc/ssh/ssh_config`` and its defaults. Without
it, paramiko's parser is used on the same files, with ``Include`` and the system-wide file
added here; what that parser cannot do as OpenSSH does (``Match exec``, an ``Include`` of
``Host`` blocks inside a ``Host`` block) is refused with one error naming it.

ProxyJump specs (``a,b``, ``user@host:port``, ``ssh://user@host:port``) are parsed here; the
runners follow them hop by hop, each hop with its own effective options.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubectl_userns.errors import UsageError

SYSTEM_CONFIG = Path("/etc/ssh/ssh_config")
# what OpenSSH's readconf.c fill_default_options() puts in when the config says nothing
DEFAULT_USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
SSH_G_TIMEOUT = 30.0  # Match exec runs the user's commands: bounded, not trusted to end

# Host names and addresses that may be handed to ssh or written into a ProxyCommand: letters,
# digits and . _ - : (IPv6), not starting with '-' (it would be read as an option), no '%'
# (OpenSSH tokens), no shell metacharacter, no white space.
_HOST = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9._:-]{0,252}")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")


def valid_host(name: str) -> bool:
    """Whether ``name`` is a plain host name or address, safe as an argument and in a command."""
    return _HOST.fullmatch(name) is not None


def valid_user(name: str) -> bool:
    return _USER.fullmatch(name) is not None


# --- ProxyJump specs ----------------------------------------------------------------------


@dataclass(frozen=True)
class JumpHop:
    """One hop of a ProxyJump list: ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host and self.port else self.host
        return f"{user}{host}{f':{self.port}' if self.port else ''}"


def parse_jump_spec(spec: str) -> tuple[JumpHop, ...]:
    """The hops of a ProxyJump value, first hop first; () for ``none``.

    Raises UsageError for a hop that is not a plain user, host and port (OpenSSH's
    readconf.c parse_jump and misc.c parse_ssh_uri/parse_user_host_port take the same forms).
    """
    spec = spec.strip()
    if spec.lower() == "none" or not spec:
        return ()
    return tuple(_parse_hop(part.strip(), spec) for part in spec.split(","))


def _parse_hop(text: str, spec: str) -> JumpHop:
    def bad(why: str) -> UsageError:
        return UsageError(
            f"ProxyJump {spec!r}: hop {text!r} {why}; write [user@]host[:port] or "
            "ssh://[user@]host[:port]."
        )

    rest = text
    if rest.startswith("ssh://"):
        rest = rest[len("ssh://") :].rstrip("/")
    user: str | None = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not valid_user(user):
            raise bad("has an invalid user name")
    port_text = ""
    if rest.startswith("["):
        host, close, after = rest[1:].partition("]")
        if not close or (after and not after.startswith(":")):
            raise bad("has an unclosed or malformed [address]")
        port_text = after[1:]
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host = rest
    if not valid_host(host):
        raise bad("is not a valid host name or address")
    port: int | None = None
    if port_text or rest.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise bad("has an invalid port")
        port = int(port_text)
    return JumpHop(host, user, port)


# --- effective options --------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveOptions:
    """The options one connection uses (paths expanded, defaults filled in as OpenSSH does)."""

    alias: str  # the name looked up
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    certificate_files: tuple[str, ...] = ()
    identities_only: bool = False
    user_known_hosts: tuple[str, ...] = ()
    global_known_hosts: tuple[str, ...] = ()
    host_key_alias: str | None = None
    strict_host_key_checking: str = "ask"
    proxy_jump: tuple[JumpHop, ...] = ()
    proxy_command: str | None = None
    connect_timeout: float | None = None
    identity_agent: str | None = None
    source: str = "ssh -G"  # or "paramiko"


def parse_ssh_g(text: str) -> dict[str, list[str]]:
    """``ssh -G`` output: one ``keyword value`` per line -> keyword -> values in order.

    Keywords are lower-cased (OpenSSH prints a few in mixed case); a keyword printed more than
    once (identityfile, certificatefile, sendenv, ...) keeps every value. Lines without a value
    are kept with an empty one; blank lines are skipped.
    """
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), []).append(value.strip())
    return values


def _first(values: Mapping[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def expand_tokens(value: str, tokens: Mapping[str, str], what: str) -> str:
    """OpenSSH's percent_expand (misc.c) for the tokens given; ``~`` at the start is home."""
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        token = value[i + 1 : i + 2]
        if token == "%":
            out.append("%")
        elif token in tokens:
            out.append(tokens[token])
        else:
            raise UsageError(
                f"{what} {value!r}: unknown or unsupported token %{token}; use one of "
                f"{' '.join('%' + t for t in sorted(tokens))}."
            )
        i += 2
    text = "".join(out)
    if text == "~" or text.startswith("~/"):
        text = os.path.expanduser("~") + text[1:]
    return text


def _tokens(hostname: str, port: int, user: str, alias: str) -> dict[str, str]:
    local = socket.gethostname()
    return {
        "d": os.path.expanduser("~"),
        "h": hostname,
        "p": str(port),
        "r": user,
        "u": getpass.getuser(),
        "n": alias,
        "L": local.split(".")[0],
        "l": local,
        "i": str(os.getuid()),
    }


def _timeout(value: str | None) -> float | None:
    if value is None or value.lower() == "none":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"ConnectTimeout {value!r} in the SSH config is not a number.") from None
    return seconds if seconds > 0 else None


def options_from_ssh_g(values: Mapping[str, list[str]], alias: str) -> EffectiveOptions:
    """Effective options from parsed ``ssh -G`` output."""
    hostname = _first(values, "hostname") or alias
    port_text = _first(values, "port") or "22"
    if not port_text.isdigit():
        raise UsageError(f"ssh -G {alias} printed port {port_text!r}; fix the SSH config.")
    port = int(port_text)
    user = _first(values, "user") or getpass.getuser()
    tokens = _tokens(hostname, port, user, alias)

    def paths(key: str) -> tuple[str, ...]:
        return tuple(expand_tokens(v, tokens, key) for v in values.get(key, []))

    def split_paths(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        found = values.get(key)
        items = found[0].split() if found else list(default)
        return tuple(expand_tokens(v, tokens, key) for v in items)

    jump = _first(values, "proxyjump")
    command = _first(values, "proxycommand")
    alias_key = _first(values, "hostkeyalias")
    agent = _first(values, "identityagent")
    return EffectiveOptions(
        alias=alias,
        hostname=hostname,
        port=port,
        user=user,
        identity_files=paths("identityfile"),
        certificate_files=paths("certificatefile"),
        identities_only=(_first(values, "identitiesonly") or "no").lower() == "yes",
        user_known_hosts=split_paths("userknownhostsfile", DEFAULT_USER_KNOWN_HOSTS),
        global_known_hosts=split_paths("globalknownhostsfile", DEFAULT_GLOBAL_KNOWN_HOSTS),
        host_key_alias=alias_key if alias_key and alias_key.lower() != "none" else None,
        strict_host_key_checking=(_first(values, "stricthostkeychecking") or "ask").lower(),
        proxy_jump=parse_jump_spec(jump) if jump else (),
        proxy_command=command if command and command.lower() != "none" else None,
        connect_timeout=_timeout(_first(values, "connecttimeout")),
        identity_agent=agent if agent and agent.lower() != "none" else None,
    )


# --- the resolver -------------------------------------------------------------------------


class SSHConfigResolver:
    """Effective options for host names under one config file, computed once per name."""

    def __init__(self, config: Path | None, ssh_binary: str | None) -> None:
        self.config = config
        self.ssh_binary = ssh_binary
        self._cache: dict[tuple[str, str | None, int | None, str | None], EffectiveOptions] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_options(cls, config: Path | None, use_ssh: bool = True) -> SSHConfigResolver:
        return cls(config, shutil.which("ssh") if use_ssh else None)

    def base_args(
        self, user: str | None = None, port: int | None = None, key: Path | None = None
    ) -> list[str]:
        """The ``ssh`` arguments that pick the config and the command-line overrides."""
        args: list[str] = []
        if self.config is not None:
            args += ["-F", str(self.config)]
        if user:
            args += ["-l", user]
        if port:
            args += ["-p", str(port)]
        if key is not None:
            args += ["-i", str(key)]
        return args

    def lookup(
        self,
        alias: str,
        *,
        user: str | None = None,
        port: int | None = None,
        key: Path | None = None,
    ) -> EffectiveOptions:
        """The effective options for ``alias`` (a validated host name), with -l/-p/-i given."""
        if not valid_host(alias):
            raise UsageError(
                f"{alias!r} is not a valid SSH host name or address (letters, digits and "
                "'.-_:' only, not starting with '-')."
            )
        if user is not None and not valid_user(user):
            raise UsageError(f"SSH user {user!r} is not a valid user name.")
        cache_key = (alias, user, port, str(key) if key else None)
        with self._lock:
            found = self._cache.get(cache_key)
        if found is not None:
            return found
        if self.ssh_binary:
            found = self._ssh_g(alias, user, port, key)
        else:
            from kubectl_userns.access.paramiko_config import paramiko_options

            found = paramiko_options(alias, self.config, user, port, key)
        with self._lock:
            self._cache[cache_key] = found
        return found

    def _ssh_g(
        self, alias: str, user: str | None, port: int | None, key: Path | None
    ) -> EffectiveOptions:
        assert self.ssh_binary is not None
        argv = [self.ssh_binary, "-G", *self.base_args(user, port, key), "--", alias]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=SSH_G_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"'ssh -G {alias}' did not finish within {SSH_G_TIMEOUT:.0f} s (a Match exec "
                "command of the SSH config hangs?); fix the SSH config."
            ) from None
        if done.returncode != 0:
            lines = [
                line
                for line in done.stderr.decode(errors="replace").splitlines()
                if line.strip() and "Pseudo-terminal" not in line
            ]
            why = lines[-1].strip() if lines else f"exit {done.returncode}"
            raise UsageError(
                f"the SSH config for {alias} is not usable: 'ssh -G' says: {why}; fix the "
                f"SSH config{f' {self.config}' if self.config else ''}."
            )
        return options_from_ssh_g(parse_ssh_g(done.stdout.decode(errors="replace")), alias)

    def literal_names(self) -> set[str]:
        """Host names the config names literally in ``Host`` lines (no patterns, no negation)."""
        files: Iterable[Path]
        if self.config is not None:
            files = [self.config]
        else:
            files = [p for p in (Path("~/.ssh/config").expanduser(),) if p.is_file()]
        from kubectl_userns.access.paramiko_config import expand_includes

        names: set[str] = set()
        for path in files:
            try:
                lines = expand_includes(path, user_file=True)
            except UsageError:
                if self.ssh_binary:
                    continue  # ssh -G reports what is wrong, at lookup
                raise
            for line in lines:
                parts = line.split()
                if parts and parts[0].lower() == "host":
                    names.update(
                        p for p in parts[1:] if not any(c in p for c in "*?!") and valid_host(p)
                    )
        return names
