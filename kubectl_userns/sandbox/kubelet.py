"""A minimal kubelet for the sandbox: runs a pod created through the API emulator on its node.

Only what ``--via pod`` needs: one container whose ``command`` runs inside the node's
namespaces, in a private mount namespace, chrooted into a root of its own: a tmpfs with the
node's ``/usr`` as the image, each ``hostPath`` volume bind-mounted (recursively, as container
runtimes do) at its ``mountPath`` (read-only when the mount says so) and each ``emptyDir`` a
fresh tmpfs; with ``hostPID: false`` it gets a PID namespace of its own. The process keeps only
the capabilities its ``securityContext`` adds (all when privileged), with no_new_privs unless
escalation is allowed, and ``readOnlyRootFilesystem`` is honoured. stdout and stderr go to one
log, as a container runtime's do; the pod's status moves Pending -> Running ->
Succeeded/Failed with the container's exit code. ``activeDeadlineSeconds`` is enforced;
deleting the pod kills what still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from kubectl_userns.sandbox.store import ObjectStore, file_name, now

JSON = dict[str, Any]

# Inside the node: build the container's root and mounts, drop capabilities, run the command.
# The root is a tmpfs holding the "image" - the node's /usr read-only with the merged-/usr links,
# an /etc with only root in passwd and group, the node's /dev, /proc (the node's with hostPID,
# else a fresh one of the pod's PID namespace) - and each volume at its mountPath. The command
# sees only that, as in a real container: a probe that reads a node path its pod does not mount
# fails here as it would on a cluster. Few processes: the directories come ready-made in one
# argument, and `mount --rbind -o ro` binds and makes read-only in one go.
# "$@" = ROOT, hostPID yes|no, DIRS and FILES (newline-separated, inside ROOT), N, then
# N x (kind source target ro|rw), then ro|rw (the root filesystem), caps, nnp, --, the command.
_SETUP = r"""
set -euf
r=$1 host_pid=$2 dirs=$3 files=$4 n=$5; shift 5
nl='
'
mkdir -p "$r"
mount -t tmpfs -o mode=755 container-root "$r"
IFS=$nl
mkdir -p $dirs
for f in $files; do : > "$f"; done
unset IFS
mount --rbind -o ro /usr "$r/usr"
links=
for d in bin sbin lib lib32 lib64 libx32; do [ -L "/$d" ] && links="$links usr/$d"; done
[ -z "$links" ] || (cd "$r" && exec ln -s $links .)
if [ "$host_pid" = yes ]; then mount --rbind /proc "$r/proc"; else mount -t proc proc "$r/proc"; fi
mount --rbind /dev "$r/dev"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
printf 'root:x:0:\n' > "$r/etc/group"
while [ "$n" -gt 0 ]; do
  kind=$1 src=$2 dst=$r$3 mode=$4; shift 4; n=$((n - 1))
  case $kind in
    hostPath) mount --rbind -o "$mode" "$src" "$dst" ;;
    emptyDir) mount -t tmpfs -o mode=1777 tmpfs "$dst" ;;
  esac
done
if [ "$1" = ro ]; then mount -o remount,bind,ro "$r"; fi
caps=$2 nnp=$3; shift 4
if [ "$nnp" = yes ]; then
  exec chroot "$r" setpriv --no-new-privs --bounding-set="$caps" --inh-caps=-all -- "$@"
fi
exec chroot "$r" setpriv --bounding-set="$caps" --inh-caps=-all -- "$@"
"""
# the image's directories (merged-/usr links are made next to them)
_IMAGE_DIRS = ("usr", "proc", "dev", "etc", "tmp", "root")

_running: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def log_path(store: ObjectStore, namespace: str, name: str) -> Path:
    return store.root / "logs" / namespace / file_name(name, ".log")


def _node_init_pid(store: ObjectStore, node: str) -> int | None:
    """The node's PID 1 from the sandbox state file next to the store."""
    try:
        data = json.loads((store.root.parent / "sandbox.json").read_text())
        pid = int(data["nodes"][node]["init_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid > 0 and Path(f"/proc/{pid}").exists() else None


def _capabilities(container: JSON) -> tuple[str, bool]:
    """``setpriv --bounding-set`` value and whether no_new_privs is set."""
    context = container.get("securityContext") or {}
    if context.get("privileged"):
        return "+all", False
    caps = context.get("capabilities") or {}
    drop = {str(c).upper() for c in caps.get("drop") or []}
    add = [str(c).lower() for c in caps.get("add") or []]
    # a runtime's default set when nothing is dropped; this kubelet only needs the shape
    base = "-all" if "ALL" in drop else "+all"
    spec = ",".join([base, *(f"+{c}" for c in add)]) if add else base
    return spec, context.get("allowPrivilegeEscalation") is False


def _mounts(pod: JSON, container: JSON, root: str) -> list[str]:
    """DIRS, FILES, N and the mounts for the setup script (see ``_SETUP``).

    A hostPath of type File gets a file to bind onto, any other volume a directory.
    """
    import posixpath

    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    dirs = [f"{root}/{d}" for d in _IMAGE_DIRS]
    files: list[str] = []
    args: list[str] = []
    count = 0
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        target = root + posixpath.normpath("/" + str(mount["mountPath"]))
        mode = "ro" if mount.get("readOnly") else "rw"
        if "hostPath" in volume:
            args += ["hostPath", volume["hostPath"]["path"], target[len(root) :], mode]
            if volume["hostPath"].get("type") in ("File", "FileOrCreate", "CharDevice"):
                dirs.append(posixpath.dirname(target))
                files.append(target)
                count += 1
                continue
        elif "emptyDir" in volume:
            args += ["emptyDir", "-", target[len(root) :], mode]
        else:
            continue
        dirs.append(target)
        count += 1
    return ["\n".join(dirs), "\n".join(files), str(count), *args]


def pod_argv(init_pid: int, pod: JSON) -> list[str]:
    """The command line that runs the pod's (first) container on the node."""
    spec = pod.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    caps, nnp = _capabilities(container)
    read_only = (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is True
    unshare = ["unshare", "-m", "--propagation", "private"]
    if not spec.get("hostPID"):
        unshare += ["-p", "--fork"]
    root = f"/run/sandbox-kubelet/{pod['metadata']['uid']}"
    return [
        "nsenter",
        "-t",
        str(init_pid),
        "-m",
        "-p",
        "-u",
        "-i",
        "--",
        *unshare,
        "--",
        "sh",
        "-c",
        _SETUP,
        "kubelet",
        root,
        "yes" if spec.get("hostPID") else "no",
        *_mounts(pod, container, root),
        "ro" if read_only else "rw",
        caps,
        "yes" if nnp else "no",
        "--",
        *command,
    ]


def _set_status(store: ObjectStore, namespace: str, name: str, uid: str, status: JSON) -> None:
    with _lock:
        pod = store.get("pods", name, namespace)
        if pod is None or pod["metadata"].get("uid") != uid:
            return  # deleted (or replaced) meanwhile: never bring it back
        pod["status"] = status
        store.put("pods", pod)


def _container_status(container: str, image: str, state: JSON) -> JSON:
    return {
        "name": container,
        "image": image,
        "imageID": "",
        "containerID": f"cri-o://{os.urandom(32).hex()}",
        "ready": "running" in state,
        "restartCount": 0,
        "started": "running" in state,
        "state": state,
    }


def start(store: ObjectStore, pod: JSON) -> None:
    """Run ``pod`` on its node in the background, if it names a running sandbox node."""
    spec = pod.get("spec") or {}
    init_pid = _node_init_pid(store, spec.get("nodeName") or "")
    if init_pid is None:
        return  # no such node: the pod stays Pending, as with a real cluster
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    container = (spec.get("containers") or [{}])[0]
    cname, image = container.get("name", "c"), container.get("image", "")
    node = (store.get("nodes", spec["nodeName"]) or {}).get("status") or {}
    host_ip = next(
        (a["address"] for a in node.get("addresses") or [] if a.get("type") == "InternalIP"), ""
    )
    path = log_path(store, *key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as log:
        proc = subprocess.Popen(
            pod_argv(init_pid, pod),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    with _lock:
        _running[key] = proc
    started = now()
    base = {"hostIP": host_ip, "podIP": host_ip if spec.get("hostNetwork") else "10.88.0.99"}
    base["qosClass"] = "BestEffort"
    _set_status(
        store,
        *key,
        meta["uid"],
        {
            **base,
            "phase": "Running",
            "startTime": started,
            "containerStatuses": [
                _container_status(cname, image, {"running": {"startedAt": started}})
            ],
        },
    )
    deadline = spec.get("activeDeadlineSeconds")

    def wait() -> None:
        reason = "Completed"
        try:
            code = proc.wait(timeout=float(deadline) if deadline else None)
        except subprocess.TimeoutExpired:
            _kill(proc)
            code, reason = 137, "DeadlineExceeded"
        with _lock:
            _running.pop(key, None)
        with contextlib.suppress(OSError):  # the empty mount point of the container's root
            os.rmdir(f"/proc/{init_pid}/root/run/sandbox-kubelet/{meta['uid']}")
        if code < 0:
            code = 128 - code
        if code and reason == "Completed":
            reason = "Error"
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": started,
            "finishedAt": now(),
        }
        _set_status(
            store,
            *key,
            meta["uid"],
            {
                **base,
                "phase": "Succeeded" if code == 0 else "Failed",
                "startTime": started,
                "containerStatuses": [_container_status(cname, image, {"terminated": terminated})],
            },
        )

    threading.Thread(target=wait, daemon=True).start()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def delete(store: ObjectStore, namespace: str, name: str) -> JSON | None:
    """Delete the pod: kill what still runs, drop its log; the deleted object or None."""
    with _lock:
        pod = store.get("pods", name, namespace)
        if pod is None:
            return None
        store.delete("pods", name, namespace)
        proc = _running.pop((namespace, name), None)
    if proc is not None:
        _kill(proc)
    log_path(store, namespace, name).unlink(missing_ok=True)
    return pod
