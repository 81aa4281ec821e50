"""The sandbox cluster: API emulator + nodes + pods, with a state file so ``down`` works from
any process and leaves nothing behind (start and stop: :mod:`.lifecycle`)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from kubectl_userns.errors import SandboxError
from kubectl_userns.sandbox.lifecycle import new_state, start_control_plane, stop
from kubectl_userns.sandbox.lifecycle import require_root as require_root
from kubectl_userns.sandbox.node import NodeState, free_port, start_node
from kubectl_userns.sandbox.node import start_sshd as _start_sshd
from kubectl_userns.sandbox.node import stop_sshd as _stop_sshd
from kubectl_userns.sandbox.nodefiles import prepare_node_dir, write_ssh_files
from kubectl_userns.sandbox.objects import (
    SANDBOX_KERNEL,
    allocated_ids_per_pod,
    kubelet_argv,
    kubelet_config,
    kubelet_config_file,
    make_node,
    make_pod,
    reported_runtime_handlers,
)
from kubectl_userns.sandbox.pods import (
    DEFAULT_POOL,
    ContainerState,
    PodState,
    free_slot,
    spawn,
)
from kubectl_userns.sandbox.runtime import Situation, new_pod_state, situate_pod, start_pod
from kubectl_userns.sandbox.statedir import STATE_FILE, CorruptStateError, read_state
from kubectl_userns.sandbox.store import ObjectStore

DEFAULT_STATE_DIR = Path("/tmp/kubectl-userns-sandbox")
CRIO_AUTO_USERNS_FIRST = 2147483648  # CRI-O userns-mode auto: containers/storage's range
TESTPOD_UID = "e33ed7f7-0c89-42a5-9956-94a0a1761b23"
KUBELET_CGROUP = "system.slice/kubelet.service"  # the kubelet's unit, outside kubepods


class Sandbox:
    """A local cluster; see ``create``, ``add_node``, ``add_pod``, ``down``."""

    def __init__(self, state_dir: Path, data: dict[str, Any]) -> None:
        self.state_dir = state_dir
        self.data = data
        self.store = ObjectStore(state_dir / "api")
        self.nodes = {n: NodeState(**s) for n, s in data.get("nodes", {}).items()}
        self.pods: dict[str, PodState] = {}
        for key, raw in data.get("pods", {}).items():
            containers = [ContainerState(**c) for c in raw.pop("containers")]
            self.pods[key] = PodState(**raw, containers=containers)
            raw["containers"] = [c.__dict__ for c in containers]

    # --- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, state_dir: Path) -> Sandbox:
        """A new sandbox with its API emulator and SSH key, and no node yet."""
        state_dir, data = new_state(state_dir)
        sandbox = cls(state_dir, data)
        sandbox.save()  # from here on, down() can clean up whatever follows
        try:
            start_control_plane(state_dir, data)
            sandbox.save()
        except BaseException:
            sandbox.down()
            raise
        return sandbox

    @classmethod
    def load(cls, state_dir: Path) -> Sandbox:
        """The sandbox of ``state_dir``; SandboxError when it is untrusted, absent or corrupt."""
        state_dir, data = read_state(state_dir)
        try:
            return cls(state_dir, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptStateError(state_dir / STATE_FILE, exc) from None

    def save(self) -> None:
        self.data["nodes"] = {n: s.to_json() for n, s in self.nodes.items()}
        self.data["pods"] = {k: p.to_json() for k, p in self.pods.items()}
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.state_dir / STATE_FILE)

    def down(self) -> None:
        """Kill every process, remove every cgroup and file the sandbox made. Idempotent; see
        :func:`~kubectl_userns.sandbox.lifecycle.stop`."""
        stop(self.state_dir, self.data, list(self.nodes.values()))

    # --- environment ------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def ssh_config(self) -> Path:
        return self.state_dir / "ssh" / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "ssh" / "known_hosts"

    def env(self) -> dict[str, str]:
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECTL_USERNS_SSH_CONFIG": str(self.ssh_config),
        }

    def exports(self) -> str:
        from shlex import quote

        return "".join(f"export {k}={quote(v)}\n" for k, v in self.env().items())

    def _write_ssh_files(self) -> None:
        write_ssh_files(self.state_dir / "ssh", list(self.nodes.values()))

    # --- nodes ------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        *,
        cgroup_driver: str = "systemd",
        cgroup_mode: str = "v2",
        subuid: str | None = DEFAULT_POOL,
        subgid: str | None = DEFAULT_POOL,
        kubelet_user: bool = True,
        getsubids: bool = True,
        max_user_namespaces: int | None = None,
        kubelet_version: str = "v1.33.1",
        container_runtime_version: str | None = None,
        oci_userns: bool = True,
        runtime: str = "crio",
        conmon_cgroup: str = "system.slice",
        cgroup_root: str = "/",
        kernel_version: str = SANDBOX_KERNEL,
        oci_runtimes: dict[str, str] | None = None,
        configz: dict[str, Any] | None = None,
        sshd_log_level: str = "VERBOSE",
        kubelet_root: str = "/var/lib/kubelet",
        kubelet_process: bool = True,
    ) -> NodeState:
        """Start a node; ``configz`` is the kubelet config served for it (``{}``: none served).

        ``runtime``/``conmon_cgroup``/``cgroup_root``: see sandbox/runtime.py and pods.py.

        ``kernel_version`` is what the node's Node object and its ``uname -r`` report;
        ``oci_runtimes`` the OCI runtimes found on it, name to version (default: crun 1.21, one
        with idmapped mounts; {} for none). The host's own crun and runc are never seen.

        The node runs a kubelet process (see :mod:`~kubectl_userns.sandbox.nodebin`) started with
        ``--config=<root>/config.yaml`` (that config written there) and, for a root other than
        /var/lib/kubelet, ``--root-dir``; ``kubelet_process=False`` leaves it out. The Node's
        ``status.runtimeHandlers`` is what that kubelet version reports for that runtime and
        feature gates (``oci_userns``: whether the OCI runtime supports idmap mounts).
        """
        if name in self.nodes:
            raise SandboxError(f"node {name} already exists in the sandbox.")
        if container_runtime_version is None:
            container_runtime_version = (
                "cri-o://1.33.0" if runtime == "crio" else "containerd://2.1.4"
            )
        index = len(self.nodes) + 1
        address = f"{self.data['address_prefix']}.{index}"
        node_dir = self.state_dir / "nodes" / name
        roots = [f"{self.data['cgroup_roots'][0]}/{name}"]
        if cgroup_mode == "hybrid":
            roots.append(f"{self.data['cgroup_roots'][1]}/{name}")
        port = free_port(address)
        pub = (self.state_dir / "ssh" / "id_ed25519.pub").read_text()
        host_key = prepare_node_dir(
            node_dir,
            name=name,
            address=address,
            port=port,
            authorized_key=pub,
            subuid=subuid,
            subgid=subgid,
            kubelet_user=kubelet_user,
            getsubids=getsubids,
            max_user_namespaces=max_user_namespaces,
            sshd_log_level=sshd_log_level,
            kernel_release=kernel_version,
            oci_runtimes={"crun": "1.21"} if oci_runtimes is None else oci_runtimes,
        )
        if configz is None:  # what the kubelet runs with, cgroupRoot included
            configz = kubelet_config(cgroup_driver=cgroup_driver, cgroup_root=cgroup_root)
        config_file = node_dir / "kubelet" / "config.yaml"  # <root>/config.yaml on the node
        config_file.write_text(kubelet_config_file(configz or kubelet_config()))
        state = NodeState(
            name=name,
            dir=str(node_dir),
            address=address,
            port=port,
            cgroup_driver=cgroup_driver,
            cgroup_mode=cgroup_mode,
            cgroup_dirs=roots,
            host_key_pub=host_key,
            subuid=subuid,
            kubelet_root=kubelet_root,
            runtime=runtime,
            conmon_cgroup=conmon_cgroup,
            cgroup_root=cgroup_root,
        )
        state.ids_per_pod = allocated_ids_per_pod(configz, kubelet_version)
        self.nodes[name] = state
        self.save()
        start_node(state)
        self.save()
        if kubelet_process:
            state.kubelet_pid = spawn(
                state,
                kubelet_argv(kubelet_root, container_runtime_version),
                cgroup=KUBELET_CGROUP,
            )
            self.save()
        self._write_ssh_files()
        self.store.put(
            "nodes",
            make_node(
                name,
                address,
                kubelet_version=kubelet_version,
                container_runtime_version=container_runtime_version,
                runtime_handlers=reported_runtime_handlers(
                    kubelet_version,
                    container_runtime_version,
                    (configz or {}).get("featureGates") or {},
                    oci_userns=oci_userns,
                ),
                kernel_version=kernel_version,
            ),
        )
        if configz:
            self.store.put_configz(name, configz)
        return state

    def stop_sshd(self, node: str) -> None:
        _stop_sshd(self.nodes[node])

    def start_sshd(self, node: str) -> None:
        _start_sshd(self.nodes[node])

    # --- pods -------------------------------------------------------------------------------

    def add_pod(
        self,
        name: str,
        *,
        node: str,
        namespace: str = "default",
        uid: str | None = None,
        host_users: bool | None = False,
        qos_class: str = "BestEffort",
        containers: int | list[str] = 1,
        processes: int = 1,
        host_id: int | None = None,
        length: int | None = None,
        runtime: str | None = None,
        image: str = "debian",
        kubelet_record_host_id: int | None = None,
        record: bool = True,
        shared_userns: bool = True,
        host_root_process: bool = False,
        churn: bool = False,
        phase: str = "Running",
        labels: dict[str, str] | None = None,
        share_process_namespace: bool = False,
        static: bool = False,
        crash_loop: bool = False,
        nested_userns: bool = False,
        runtime_ignores_userns: bool = False,
        crio_userns_mode: str | None = None,
        host_network: bool = False,
    ) -> PodState:
        """Start a pod's sandbox and containers on ``node`` (its runtime's layout, see
        sandbox/runtime.py) and publish the Pod object. Situations of real clusters: ``static``
        (named <name>-<node>, kubelet UID = config hash), ``crash_loop`` (every container
        exited), ``nested_userns`` (a child user namespace, as rootless podman makes),
        ``runtime_ignores_userns`` (recorded range, host namespace), ``crio_userns_mode``
        (CRI-O's io.kubernetes.cri-o.userns-mode annotation, without hostUsers)."""
        state_node = self.nodes[node]
        length = length or state_node.ids_per_pod
        names = (
            containers
            if isinstance(containers, list)
            else (["shell"] if containers == 1 else [f"c{i}" for i in range(containers)])
        )
        if crio_userns_mode is not None and host_id is None:
            host_id = CRIO_AUTO_USERNS_FIRST  # containers/storage's range, not the kubelet's
        if host_users is False and host_id is None:
            host_id = free_slot(state_node, self.pods.values(), length)
        pod = new_pod_state(
            state_node,
            name=f"{name}-{node}" if static else name,
            namespace=namespace,
            uid=uid or str(uuid.uuid4()),
            host_users=host_users,
            qos_class=qos_class,
            runtime=runtime or state_node.runtime,
            host_id=host_id,
            length=length,
            static=static,
        )
        runtime_userns = (host_users is False and not runtime_ignores_userns) or bool(
            crio_userns_mode
        )
        if kubelet_record_host_id is not None:
            pod.slots.append(kubelet_record_host_id)
        self.pods[f"{namespace}/{pod.name}"] = pod
        self.save()
        statuses: list[tuple[str, str, str]] = []
        if phase == "Running":
            situation = Situation(
                processes, churn, shared_userns, host_root_process, record,
                kubelet_record_host_id, share_process_namespace, crash_loop, nested_userns,
                runtime_userns,
            )  # fmt: skip
            statuses = start_pod(
                state_node,
                pod,
                names,
                image=image,
                situation=situation,
                next_slot=lambda: free_slot(state_node, self.pods.values(), length),
                save=self.save,
            )
        self.save()
        obj = make_pod(
            pod.name,
            namespace,
            uid=pod.uid,
            node_name=node if phase == "Running" else "",
            host_ip=state_node.address,
            containers=statuses or [(c, image, "") for c in names],
            host_users=host_users,
            qos_class=qos_class,
            phase=phase,
            labels=labels,
            host_network=host_network,
        )
        situate_pod(
            obj,
            mirror_of=pod.kubelet_uid if static else None,
            crio_userns_mode=crio_userns_mode,
            share_process_namespace=share_process_namespace,
            crash_loop=crash_loop,
        )
        self.store.put("pods", obj)
        return pod

    def pod(self, name: str, namespace: str = "default") -> PodState:
        return self.pods[f"{namespace}/{name}"]


from kubectl_userns.sandbox.demo import default_sandbox as default_sandbox  # noqa: E402
