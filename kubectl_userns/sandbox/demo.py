"""The sandbox of ``kubectl userns sandbox up``: wk1, wk2 and three pods."""

from __future__ import annotations

from pathlib import Path

from kubectl_userns.sandbox.cluster import TESTPOD_UID, Sandbox


def default_sandbox(state_dir: Path) -> Sandbox:
    """The sandbox of ``kubectl userns sandbox up``: wk1, wk2 and three pods."""
    sandbox = Sandbox.create(state_dir)
    try:
        sandbox.add_node("wk1")
        sandbox.add_node("wk2")
        sandbox.add_pod(
            "testpod", node="wk2", uid=TESTPOD_UID, host_id=4980736, containers=["shell"]
        )
        sandbox.add_pod("hostpod", node="wk1", host_users=True, containers=["shell"])
        sandbox.add_pod(
            "web",
            node="wk1",
            qos_class="Burstable",
            containers=["nginx", "sidecar"],
            host_id=5177344,
        )
    except BaseException:
        sandbox.down()
        raise
    return sandbox
