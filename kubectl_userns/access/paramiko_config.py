"""The effective SSH options without the OpenSSH client: paramiko's ssh_config parser, given
what it lacks - ``Include`` (inlined here, as OpenSSH's readconf.c reads it), the system-wide
/etc/ssh/ssh_config after the user's file, command-line -l/-p first - and naming in one error
what it cannot do as OpenSSH does (``Match exec``, an Include of blocks inside a block).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

from kubectl_userns.access.ssh_config import SYSTEM_CONFIG, EffectiveOptions, options_from_ssh_g
from kubectl_userns.errors import UsageError

# --- paramiko's parser, with Include and the system-wide file ------------------------------


def expand_includes(path: Path, *, user_file: bool, depth: int = 0) -> list[str]:
    """The lines of an ssh_config file with every ``Include`` replaced by the files it names.

    Relative Include paths are taken from ~/.ssh for the user's files and /etc/ssh for the
    system-wide one, globs are expanded in sorted order (OpenSSH's readconf.c, case oInclude).
    An Include inside a Host or Match block whose files start blocks of their own is refused:
    OpenSSH keeps such blocks under the enclosing condition, which one flat file cannot say.
    """
    if depth > 16:  # OpenSSH's READCONF_MAX_DEPTH
        raise UsageError(f"SSH config {path}: Include nested more than 16 deep; fix the loop.")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the SSH config {path} ({exc}); fix the file.") from None
    out: list[str] = []
    in_block: str | None = None
    for line in lines:
        stripped = line.strip()
        parts = re.split(r"\s*=\s*|\s+", stripped, maxsplit=1)
        key = parts[0].lower()
        value = parts[1] if len(parts) > 1 else ""
        if key in ("host", "match"):
            in_block = stripped
        if key != "include":
            out.append(line)
            continue
        base = Path("~/.ssh").expanduser() if user_file else SYSTEM_CONFIG.parent
        for pattern in value.split():
            pattern = os.path.expanduser(pattern)
            full = pattern if os.path.isabs(pattern) else str(base / pattern)
            for found in sorted(glob.glob(full)):
                included = expand_includes(Path(found), user_file=user_file, depth=depth + 1)
                opens = [
                    s for s in included if s.strip().lower().split(" ")[0] in ("host", "match")
                ]
                if in_block is not None and opens:
                    raise UsageError(
                        f"SSH config {path}: 'Include {value}' inside '{in_block}' includes "
                        f"{found}, which has its own Host/Match blocks; paramiko's parser "
                        "cannot keep them under the enclosing block as OpenSSH does - install "
                        "the OpenSSH client (ssh) or move the Include before the first block."
                    )
                out.extend(included)
                if opens and in_block is None:
                    out.append("Host *")  # what follows the Include is global again
    return out


def _lookup_once(parsed: Any, alias: str) -> Any:
    """paramiko's lookup with OpenSSH's number of passes.

    paramiko always reads the config twice, the second time with the HostName the first pass
    set, so a ``Match host`` that did not match the name can match on the second pass. OpenSSH
    reads it a second time only for ``Match canonical``/``Match final`` or CanonicalizeHostname
    (readconf.c match_cfg_line sets want_final_pass; ssh.c re-reads the files then): found by
    tests/test_ssh_config_parse.py's comparison with ``ssh -G``.
    """
    matches = [m for block in parsed._config for m in block.get("matches", [])]
    final = any(m.get("type") in ("canonical", "final") for m in matches)
    first = parsed._lookup(hostname=alias)
    if final or first.get("canonicalizehostname") in ("yes", "always"):
        return parsed.lookup(alias)  # paramiko's passes are OpenSSH's here
    if "hostname" not in first:
        first["hostname"] = alias
    return parsed._expand_variables(first, alias)


def paramiko_options(
    alias: str,
    config: Path | None,
    user: str | None,
    port: int | None,
    key: Path | None,
) -> EffectiveOptions:
    import paramiko

    lines: list[str] = []
    # command-line values come first, as ssh's -l/-p do (first obtained value wins)
    if user or port:
        lines += [
            "Host *",
            *([f"User {user}"] if user else []),
            *([f"Port {port}"] if port else []),
        ]
    if config is not None:
        lines += expand_includes(config, user_file=True)
    else:
        user_config = Path("~/.ssh/config").expanduser()
        if user_config.is_file():
            lines += expand_includes(user_config, user_file=True)
        if SYSTEM_CONFIG.is_file():
            lines += ["Host *", *expand_includes(SYSTEM_CONFIG, user_file=False)]
    where = str(config or "~/.ssh/config")
    for line in lines:
        words = line.strip().lower().split()
        if words[:1] == ["match"] and "exec" in words:
            raise UsageError(
                f"SSH config {where}: '{line.strip()}' needs the OpenSSH client (ssh) to run "
                "its command; install it, or remove the Match exec block."
            )
    try:
        parsed = paramiko.SSHConfig.from_text("\n".join(lines))
        entry = _lookup_once(parsed, alias)
    except (paramiko.ssh_exception.ConfigParseError, ValueError) as exc:
        raise UsageError(f"cannot parse the SSH config {where}: {exc}; fix the file.") from None
    except paramiko.ssh_exception.CouldNotCanonicalize as exc:
        raise UsageError(
            f"the SSH config {where} canonicalises host names and {exc} matched none of "
            "CanonicalDomains; fix CanonicalizeHostname or the name."
        ) from None
    values: dict[str, list[str]] = {}
    for name, value in entry.items():
        if value is None:
            continue
        values[name] = list(value) if isinstance(value, list) else [str(value)]
    if key is not None:
        values["identityfile"] = [str(key), *values.get("identityfile", [])]
    # paramiko has already expanded the tokens it knows; the rest is OpenSSH's list
    found = options_from_ssh_g(values, alias)
    return EffectiveOptions(**{**found.__dict__, "source": "paramiko"})
