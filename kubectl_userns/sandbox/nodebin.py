"""Programs a sandbox node has in its /usr/local/bin: the kubelet process and crun.

The kubelet itself is emulated by the API server side of the sandbox; what a node needs of it is
a *process* that looks, from the node, like the real one: named ``kubelet``, a root-owned binary
of that name on the node's filesystem, UID 0, in the node's own PID and user namespace, in
``system.slice/kubelet.service`` (outside kubepods), with the command line kubeadm gives it
(kubernetes cmd/kubeadm/app/phases/kubelet/flags.go and the kubeadm systemd drop-in:
``--bootstrap-kubeconfig``, ``--kubeconfig``, ``--config``, ``--container-runtime-endpoint``).
That binary is :func:`kubelet_binary`: a minimal static ELF program written here byte by byte
that ignores its arguments and sleeps in ``pause()`` until a signal ends it, so its
``/proc/PID/cmdline`` is exactly the kubelet's.

``crun`` is a shell stand-in that answers ``--version`` as crun does (containers/crun
src/crun.c print_version: ``crun version X``, ``commit:``, ``rundir:``, ``spec: 1.0.0``, feature
tags) and, like it, creates its state directory when missing: ``--root``, else
``$XDG_RUNTIME_DIR/crun``, else ``/run/crun``, mode 0700 (src/libcrun/status.c
get_run_directory). That side effect is what a read-only probe must avoid.
"""

from __future__ import annotations

import platform
import struct

from kubectl_userns.errors import SandboxError

_BASE = 0x400000
_HEADERS = 64 + 56  # ELF64 header + one program header

# pause() in a loop; the entry point follows the headers
_CODE = {
    # mov eax, 34 (pause); syscall; jmp back to the mov
    "x86_64": (0x3E, bytes.fromhex("b8220000000f05ebf7")),
    # mov x0..x3, #0; mov x8, #73 (ppoll: no fds, no timeout); svc #0; b back to the first mov
    "aarch64": (
        0xB7,
        struct.pack(
            "<7I",
            0xD2800000,
            0xD2800001,
            0xD2800002,
            0xD2800003,
            0xD2800928,
            0xD4000001,
            0x17FFFFFA,
        ),
    ),
}


def kubelet_binary(machine: str | None = None) -> bytes:
    """A static ELF executable for this machine that blocks until a signal ends it."""
    arch = machine or platform.machine()
    if arch not in _CODE:
        raise SandboxError(f"the sandbox's kubelet stand-in has no machine code for {arch}.")
    e_machine, code = _CODE[arch]
    size = _HEADERS + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # ET_EXEC
        e_machine,
        1,  # EV_CURRENT
        _BASE + _HEADERS,  # entry point
        64,  # program headers right after this header
        0,  # no section headers
        0,
        64,
        56,
        1,
        0,
        0,
        0,
    )
    program = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # R + X
        0,
        _BASE,
        _BASE,
        size,
        size,
        0x1000,
    )
    return header + program + code


def crun_standin(version: str) -> str:
    """The text of the node's ``crun``: ``--version`` as crun ``version`` answers it."""
    return f"""#!/bin/sh
# sandbox stand-in for crun {version} (kubectl_userns/sandbox/nodebin.py): --version only
root= want=
for a in "$@"; do
  if [ -n "$want" ]; then root=$a want=; continue; fi
  case $a in
    --root=*) root=${{a#--root=}} ;;
    --root) want=1 ;;
    --version | -v | -V)
      if [ -z "$root" ] && [ -n "${{XDG_RUNTIME_DIR:-}}" ]; then root=$XDG_RUNTIME_DIR/crun; fi
      root=${{root:-/run/crun}}
      [ -d "$root" ] || mkdir -p -m 700 "$root" || exit 1
      printf 'crun version {version}\\ncommit: 0000000000000000000000000000000000000000\\n'
      printf 'rundir: %s\\nspec: 1.0.0\\n' "$root"
      printf '+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL\\n'
      exit 0 ;;
  esac
done
echo "crun: please specify a command" >&2
exit 1
"""
