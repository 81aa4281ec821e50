"""A sandbox container: the command line that gives it a root of its own, and a pod's QoS.

The container's root is a tmpfs holding the "image" - the node's /usr read-only with the
merged-/usr links, an /etc with only root in passwd and group, the node's /dev, /proc (the
node's with hostPID, else a fresh one of the pod's PID namespace) - and each volume at its
mountPath, chrooted into with the capabilities its securityContext keeps (see kubelet.py).
"""

from __future__ import annotations

from typing import Any

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


def capabilities(container: JSON) -> tuple[str, bool]:
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


def mounts(pod: JSON, container: JSON, root: str) -> list[str]:
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


def container_argv(pod: JSON, container: JSON) -> list[str]:
    """The command line that runs ``container`` of ``pod`` once inside the node's namespaces."""
    spec = pod.get("spec") or {}
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    command = command or ["sleep", "infinity"]
    caps, nnp = capabilities(container)
    read_only = (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is True
    unshare = ["unshare", "-m", "--propagation", "private"]
    if not spec.get("hostPID"):
        unshare += ["-p", "--fork"]
    root = f"/run/sandbox-kubelet/{pod['metadata']['uid']}/{container.get('name', 'c')}"
    return [
        *unshare,
        "--",
        "sh",
        "-c",
        _SETUP,
        "kubelet",
        root,
        # a fresh proc needs a fully visible proc in the mount namespace (the kernel's
        # mount_too_revealing, fs/namespace.c); the node's /proc has the sandbox's overmounts
        # (osrelease), so a container in a user namespace of its own gets the node's /proc
        "yes" if spec.get("hostPID") or spec.get("hostUsers") is False else "no",
        *mounts(pod, container, root),
        "ro" if read_only else "rw",
        caps,
        "yes" if nnp else "no",
        "--",
        *command,
    ]


_SUFFIX = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def _quantity(value: Any) -> float | None:
    """A resource quantity ("100m", "64Mi", 2) as a number; None when it is not one."""
    import re

    match = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]{0,2})", str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None


def qos_class(pod: JSON) -> str:
    """The pod's QoS class, by kubernetes pkg/apis/core/v1/helper/qos/qos.go GetPodQOS.

    Only cpu and memory count. No request or limit anywhere: BestEffort. Every container with
    cpu and memory limits, and requests equal to them (the API server defaults a missing
    request to its limit, pkg/apis/core/v1/defaults.go): Guaranteed. Anything else: Burstable.
    """
    spec = pod.get("spec") or {}
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    guaranteed = True
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        resources = container.get("resources") or {}
        own_limits = {
            k: q
            for k, v in (resources.get("limits") or {}).items()
            if k in ("cpu", "memory") and (q := _quantity(v))
        }
        own_requests = {
            k: q
            for k, v in (resources.get("requests") or {}).items()
            if k in ("cpu", "memory") and (q := _quantity(v))
        }
        own_requests = {**own_limits, **own_requests}
        for k, q in own_requests.items():
            requests[k] = requests.get(k, 0) + q
        for k, q in own_limits.items():
            limits[k] = limits.get(k, 0) + q
        if set(own_limits) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"
