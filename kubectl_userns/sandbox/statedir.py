"""The sandbox's state directory and what ``down`` may touch: only what it can prove is its own.

The state directory holds the kubeconfig, the SSH keys and ``ssh_config`` that root's next
``kubectl userns inspect`` trusts, and ``sandbox.json``, which names the processes and cgroups
``down`` removes. Whoever can write there can make root run a ProxyCommand or kill any process.
So:

* the directory is created by the sandbox with mode 0700; an existing one is used only when it
  is a real directory (not a symlink) owned by the caller and writable by nobody else, and
  every directory above it is owned by the caller or root and not writable by others, unless
  it is sticky like /tmp (where others cannot rename or remove what the caller owns);
* ``down`` signals a process only when its cgroup lies under the sandbox's own cgroup tree,
  named after the sandbox's id (``kubectl-userns-<id>``, which only root can create and move
  processes into), and removes only those cgroup trees; the id itself must be 8 hex digits,
  so a planted ``sandbox.json`` cannot point ``down`` anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
from pathlib import Path

from kubectl_userns.errors import SandboxError
from kubectl_userns.sandbox.node import CGROUP2_HOST, SYSTEMD_V1_HOST, remove_cgroup_tree

STATE_FILE = "sandbox.json"
ID_FILE = "id"  # the sandbox id alone, written before anything starts
ID_PATTERN = re.compile(r"[0-9a-f]{8}")
CGROUP_PREFIX = "kubectl-userns-"


def _refuse(path: Path, why: str) -> SandboxError:
    return SandboxError(
        f"the sandbox state directory {path} cannot be trusted: {why}; remove it or choose "
        "another with --state-dir."
    )


def _check_parent(path: Path, uid: int, state_dir: Path) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid not in (0, uid):
            raise _refuse(state_dir, f"{path} is a symlink owned by uid {info.st_uid}")
        info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(state_dir, f"{path} is not a directory")
    if info.st_uid not in (0, uid):
        raise _refuse(state_dir, f"{path} is owned by uid {info.st_uid}")
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable_by_others and not info.st_mode & stat.S_ISVTX:
        raise _refuse(state_dir, f"{path} is writable by other users")


def check_ancestors(state_dir: Path) -> None:
    """Every directory above ``state_dir`` (as given and resolved) is safe to trust."""
    uid = os.geteuid()
    for path in {*state_dir.parents, *state_dir.resolve().parents}:
        with contextlib.suppress(FileNotFoundError):
            _check_parent(path, uid, state_dir)


def check_owned(state_dir: Path) -> None:
    """``state_dir`` is a real directory of the caller's that nobody else can write."""
    info = os.lstat(state_dir)
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(state_dir, "it is a symlink")
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(state_dir, "it is not a directory")
    if info.st_uid != os.geteuid():
        raise _refuse(state_dir, f"it is owned by uid {info.st_uid}, not by you")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _refuse(state_dir, "it is writable by other users")


def make_state_dir(state_dir: Path) -> Path:
    """Create ``state_dir`` (mode 0700; missing parents 0755) or accept a safe existing one."""
    state_dir = Path(os.path.abspath(state_dir))
    check_ancestors(state_dir)
    missing = [p for p in [*reversed(state_dir.parents), state_dir] if not os.path.lexists(p)]
    for path in missing:
        try:
            os.mkdir(path, 0o700 if path == state_dir else 0o755)
        except FileExistsError:
            pass  # made meanwhile by someone else: the checks below decide
        except OSError as exc:
            raise SandboxError(
                f"cannot create the sandbox state directory {path}: {exc.strerror}."
            ) from None
    check_ancestors(state_dir)
    check_owned(state_dir)
    os.chmod(state_dir, 0o700)
    return state_dir.resolve()


def trusted_state_dir(state_dir: Path) -> Path:
    """An existing state directory that ``down``/``env`` may read (see the module docstring)."""
    state_dir = Path(os.path.abspath(state_dir))
    check_ancestors(state_dir)
    if not os.path.lexists(state_dir):
        raise SandboxError(
            f"no sandbox runs from {state_dir}; start one with 'kubectl userns sandbox up'."
        )
    check_owned(state_dir)
    return state_dir.resolve()


def valid_id(value: object) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise SandboxError(
            "the sandbox state names no valid sandbox id; nothing was stopped. Remove leftover "
            f"cgroups named {CGROUP_PREFIX}* under /sys/fs/cgroup by hand."
        )
    return value


def cgroup_roots(sandbox_id: str, hierarchies: list[str]) -> list[Path]:
    """The sandbox's own cgroup trees, computed from its id (never read from the state file)."""
    return [Path(h) / f"{CGROUP_PREFIX}{valid_id(sandbox_id)}" for h in hierarchies]


def in_sandbox_cgroup(pid: object, sandbox_id: str) -> bool:
    """Whether process ``pid`` sits in a cgroup of sandbox ``sandbox_id`` (any hierarchy)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return False
    marker = f"/{CGROUP_PREFIX}{valid_id(sandbox_id)}"
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if path == marker or path.startswith(marker + "/"):
            return True
    return False


def kill_if_ours(pid: object, sandbox_id: str) -> bool:
    """SIGKILL ``pid`` only when it is proven to be the sandbox's (see ``in_sandbox_cgroup``);
    whether it was signalled."""
    if isinstance(pid, int) and in_sandbox_cgroup(pid, sandbox_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            return True
    return False


class CorruptStateError(SandboxError):
    """The state file does not parse or has the wrong shape."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        why = " ".join(str(cause).split())[:120] or type(cause).__name__
        super().__init__(
            f"the sandbox state file {path} is corrupt ({why}); 'kubectl userns sandbox down' "
            "still removes the sandbox by its id."
        )
        self.path = path


def down_by_id(state_dir: Path, sandbox_id: str) -> None:
    """Remove the sandbox's cgroup trees (and every process in them) and its state directory;
    SandboxError when something is left, so that ``down`` never claims a clean stop falsely."""
    roots = cgroup_roots(sandbox_id, [CGROUP2_HOST, SYSTEMD_V1_HOST])
    for root in roots:
        remove_cgroup_tree(root)
    shutil.rmtree(state_dir, ignore_errors=True)
    left = [str(root) for root in roots if root.exists()]
    if state_dir.exists():
        left.append(str(state_dir))
    if left:
        raise SandboxError(
            f"the sandbox could not remove {', '.join(left)}; see what holds it (e.g. "
            "'cat cgroup.procs' there) and run 'kubectl userns sandbox down' again."
        )


def down_corrupt(state_dir: Path) -> str:
    """``down`` for a state directory whose sandbox.json is corrupt: by its id file."""
    state_dir = trusted_state_dir(state_dir)
    try:
        sandbox_id = valid_id((state_dir / ID_FILE).read_text().strip())
    except OSError:
        sandbox_id = valid_id(None)
    down_by_id(state_dir, sandbox_id)
    return sandbox_id


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_state(state_dir: Path) -> tuple[Path, dict[str, object]]:
    """The trusted state directory and its parsed sandbox.json (with a valid id), or the
    SandboxError that says why not (untrusted, absent, corrupt)."""
    import json

    state_dir = trusted_state_dir(state_dir)
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SandboxError(
            f"no sandbox runs from {state_dir}; start one with 'kubectl userns sandbox up'."
        ) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CorruptStateError(path, exc) from None
    if not isinstance(data, dict):
        raise CorruptStateError(path, TypeError("not a JSON object"))
    try:
        valid_id(data.get("id"))
    except SandboxError as exc:
        raise CorruptStateError(path, exc) from None
    return state_dir, data
