"""The cluster's I/O: the Kubernetes API, the nodes over SSH or a probe pod, the local runner."""

import sys

# paramiko imports invoke (and with it unittest.mock and asyncio: ~70 ms of every SSH command's
# start) only to run an SSH config's `Match exec`, which this tool refuses before paramiko
# parses a config (access/paramiko_config.py). paramiko runs without it: its import is guarded
# (paramiko/config.py) and invoke was an optional extra up to paramiko 3.5. Blocked here, before
# any module of this package imports paramiko; a process that already has invoke keeps it.
sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]
