"""The probe's framing holds against any byte a tenant controls (issue 14, classes 3 and 13).

Property tests (Hypothesis) for every parser of node text, and the real inspect probe against
real processes that set their own comm and command line: a process can make its own record
say anything, but never break or forge another's.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubectl_userns.checks.idmap import (
    MAX_ID,
    parse_getsubids,
    parse_id_map,
    parse_kubelet_record,
    parse_subid_file,
)
from kubectl_userns.errors import ProbeError
from kubectl_userns.probe import INCLUDE, load_script
from kubectl_userns.probe.node_dump import parse_node_dump, parse_subid_line
from kubectl_userns.probe.pod_dump import parse_pod_dump
from kubectl_userns.probe.records import parse_records, unescape
from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.pods import spawn
from tests.cli import run_cli
from tests.conftest import needs_root

NO_NUL = st.binary(max_size=300).map(lambda b: b.replace(b"\0", b""))
TEXT = st.text(max_size=400)


@functools.cache
def _sed_program() -> bytes:
    """The escaping sed program, made by the probe's own sed_escape function."""
    script = load_script("inspect")
    function = re.search(r"^sed_escape\(\) \{\n.*?^\}\n", script, re.M | re.S)
    assert function is not None
    done = subprocess.run(
        ["sh", "-c", f"LC_ALL=C; export LC_ALL; {function.group(0)}sed_escape"],
        capture_output=True,
        check=True,
    )
    return done.stdout  # raw bytes: the program names each byte it escapes


def test_both_probes_escape_alike() -> None:
    # one sed_escape (probe/common.sh), in both scripts as they are sent
    for kind in ("inspect", "node"):
        found = re.findall(r"^sed_escape\(\) \{\n", load_script(kind), re.M)
        assert len(found) == 1, kind
        assert INCLUDE not in load_script(kind)


@pytest.fixture(scope="module")
def sed() -> Iterator[subprocess.Popen[bytes]]:
    """One sed running the probe's escaping program for all examples (a process per example was
    most of the test's CPU): the program edits each line alone (no hold space, no N), so lines
    of earlier examples change nothing; -u makes sed answer each line as it reads it."""
    process = subprocess.Popen(
        [b"sed", b"-u", b"-e", _sed_program()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    yield process
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=60) == 0


def _escape_with_sed(sed: subprocess.Popen[bytes], lines: list[bytes]) -> list[str]:
    """Each line (no newline or NUL in it) through the probe's real sed program; then a NUL
    line, which sed leaves as it is and no escaped line can be, ends the answer."""
    assert sed.stdin is not None and sed.stdout is not None
    sed.stdin.write(b"".join(line + b"\n" for line in lines) + b"\0\n")
    sed.stdin.flush()
    answer = []  # all of it before any assertion: the next example reads after it
    while (line := sed.stdout.readline()) not in (b"\0\n", b""):
        answer.append(line)
    assert line, "sed ended"
    out = b"".join(answer).decode("ascii")  # nothing but printable ASCII, TAB and newline
    assert all(c in "\t\n" or " " <= c <= "~" for c in out)
    return out.split("\n")[:-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(NO_NUL.map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=8))
def test_the_real_sed_program_and_the_reader_round_trip_any_bytes(
    sed: subprocess.Popen[bytes], lines: list[bytes]
) -> None:
    escaped = _escape_with_sed(sed, lines)
    assert len(escaped) == len(lines)
    for raw, text in zip(lines, escaped, strict=True):
        fields = text.split("\t")
        assert len(fields) == raw.count(b"\t") + 1  # a TAB stays a field separator
        decoded = [unescape(f) for f in fields]
        assert "\t".join(decoded) == raw.decode("utf-8", "backslashreplace")


def _frame(value: bytes) -> str:
    """A tenant's bytes as the probe writes a field: TAB and newline as spaces, escaped."""
    cleaned = value.replace(b"\0", b" ").replace(b"\t", b" ").replace(b"\n", b" ")
    out = []
    for byte in cleaned:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _proc(uid: str, pid: int, cgroup: bytes, comm: bytes) -> str:
    maps = "0 4980736 65536"
    fields = [uid, str(pid), _frame(cgroup), "0 0 0 0", "0 0 0 0", maps, maps, "user:[1]"]
    return "proc\t" + "\t".join([*fields, _frame(comm), ""])


def _output(hostile_comm: bytes, hostile_cmdline: bytes, hostile_cgroup: bytes) -> str:
    lines = [
        "probe\tkubectl-userns\t2\tinspect",
        "host\tuser:[0]\tuser:[0]",
        "poddir\tA\t/k/podA",
        "poddir\tB\t/k/podB",
        _proc("A", 10, b"/k/podA/" + hostile_cgroup, hostile_comm),
        _proc("B", 20, b"/k/podB/c", b"sleep"),
        *(f"cmdline\tA\t10\t{_frame(part)}" for part in hostile_cmdline.split(b"\n")),
        "cmdline\tB\t20\tsleep infinity",
        'record\tB\t{"uidMappings": [{"hostId": 4980736, "containerId": 0, "length": 65536}],',
        'record\tB\t"gidMappings": [{"hostId": 4980736, "containerId": 0, "length": 65536}]}',
        "end",
    ]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NO_NUL, NO_NUL, NO_NUL.map(lambda b: b.replace(b"/", b"")))
@example("\r\v\f\x1c\x1d\x1e\x85\u2028".encode(), b"a\r\nb", b"x\xe2\x80\xa9y")
def test_a_tenants_bytes_stay_in_its_own_record(comm: bytes, cmdline: bytes, cgroup: bytes) -> None:
    text = _output(comm, cmdline, cgroup)
    neighbour = parse_pod_dump(text, "B", "n1")
    (proc,) = neighbour.processes
    assert (proc.pid, proc.comm, proc.cmdline, proc.cgroup) == (
        20,
        "sleep",
        "sleep infinity",
        "/k/podB/c",
    )
    assert neighbour.record is not None and neighbour.malformed == ()
    own = parse_pod_dump(text, "A", "n1")
    (mine,) = own.processes
    assert mine.comm == unescape(_frame(comm))  # its own record says what it wrote


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
@example("probe\tkubectl-userns\t2\tinspect\nproc\tA\tx\nend\n")
@example("probe\tkubectl-userns\t2\tinspect\ngone\tA\t\u0661\nend\n")
def test_any_inspect_output_gives_a_dump_or_a_probe_error(text: str) -> None:
    for body in (text, f"probe\tkubectl-userns\t2\tinspect\n{text}\nend\n"):
        with contextlib.suppress(ProbeError):
            parse_pod_dump(body, "A", "n1")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
@example("probe\tkubectl-userns\t2\tnode\nkernel\t6.1\nrootfs\t/k\t-\t-\t-\t-\nuser\tx\ty\nend\n")
def test_any_node_output_gives_a_dump_or_a_probe_error(text: str) -> None:
    for body in (text, f"probe\tkubectl-userns\t2\tnode\n{text}\nend\n"):
        with contextlib.suppress(ProbeError):
            parse_node_dump(body, "n1")
    with pytest.raises(ProbeError):
        parse_records(text + "\nnot the end", "node", "n1")


# up to 6 fields: the readers (probe/kubelet_records.py) read the first 4 and only compare the
# count with 2, 3 and 4, so 5 and 6 stand for any longer record
_FIELDS = st.lists(
    st.text(max_size=20).map(lambda s: s.replace("\t", "").replace("\n", "")), max_size=6
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["kubeletroot", "kubeletproc", "user", "nouser"]), _FIELDS)
@example("user", ["kubelet", "\u0661", "1"])
@example("kubeletroot", ["/k", "cmdline", "dir", "-"])
@example("kubeletproc", ["1", "maybe"])
def test_the_kubelet_records_are_read_alike_by_both_readers(tag: str, fields: list[str]) -> None:
    # probe/common.sh's records, in either probe's output: a result, or (node probe only) a
    # ProbeError; for a pod they are about the node, so a bad one is left out, never raised
    line = "\t".join([tag, *fields])
    pod = parse_pod_dump(f"probe\tkubectl-userns\t2\tinspect\n{line}\nend\n", "A", "n1")
    assert pod.malformed == ()
    node = f"probe\tkubectl-userns\t2\tnode\nkernel\t6.1\nrootfs\t/k\t-\t-\t-\t-\n{line}\nend\n"
    try:
        dump = parse_node_dump(node, "n1")
    except ProbeError:
        return
    if tag == "user":
        assert dump.kubelet_user == pod.kubelet_user
    if tag == "kubeletroot":
        assert pod.kubelet_root is not None
        assert (pod.kubelet_root.source, pod.kubelet_root.state) == (
            dump.kubelet_root_source,
            dump.kubelet_root_state,
        )


_records = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


_ENTRY_KEYS = ["hostId", "containerId", "length"]
# where an ID belongs the reader takes an int in 0..MAX_ID and refuses anything else by its type
# alone (idmap._record_id), so one value of each JSON type stands for all of that type
_NOT_AN_ID = st.integers() | st.sampled_from(
    [2**32, -1, True, 1.0, 1e400, "1", None, [], [0], {}, {"hostId": 0}]
)


def _kubelet_record(entries: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda u, g: json.dumps({"uidMappings": u, "gidMappings": g}),
        st.lists(entries, max_size=3),
        st.lists(entries, max_size=3),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        TEXT,
        _records.map(json.dumps),
        # the kubelet's own shape with IDs (length 0 among them), so that records are read ...
        _kubelet_record(st.fixed_dictionaries(dict.fromkeys(_ENTRY_KEYS, st.integers(0, MAX_ID)))),
        # ... and with keys missing and any value where an ID belongs
        _kubelet_record(st.dictionaries(st.sampled_from(_ENTRY_KEYS), _NOT_AN_ID)),
    )
)
@example('{"uidMappings": [{"hostId": 1e400, "containerId": 0, "length": 65536}]}')
@example("[" * 5000 + "]" * 5000)
@example('{"uidMappings": [{"hostId": ' + "9" * 5000 + ', "containerId": 0, "length": 1}]}')
def test_any_kubelet_record_gives_a_record_or_value_error(text: str) -> None:
    try:
        record = parse_kubelet_record(text)
    except ValueError:
        return
    for mapping in (*record.uid_mappings, *record.gid_mappings):
        assert 0 <= mapping.outside <= 2**32 - 1 and mapping.length >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
@example("0 0 4294967295\n1 ² 3")
def test_maps_and_subordinate_id_files_give_a_result_or_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_id_map(text)
    parse_subid_file(text)
    parse_subid_file(text, owner_id=0)
    parse_getsubids(text)
    parse_subid_line(text)


# --- the real probe against real processes ------------------------------------------------


@pytest.fixture(scope="module")
def hostile(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("h1")
    cluster.add_pod("victim", node="h1")
    cluster.add_pod("rooted", node="h1", host_root_process=True)
    cluster.add_pod("tenant", node="h1")
    return cluster


# sets its own comm, then stays (exec would reset it); its command line is its argv
_SET_COMM = 'printf %s "$1" > /proc/$$/comm && while :; do sleep 3600; done'


def _spawn_tenant(cluster: Sandbox, comm: str, arg: str) -> int:
    pod = cluster.pod("tenant")
    container = pod.containers[0]
    pid = spawn(
        cluster.nodes["h1"],
        ["sh", "-c", _SET_COMM, "sh", comm, arg],
        cgroup=container.cgroup,
        join_userns_of=container.pids[0],
    )
    pod.extra_pids.append(pid)
    return pid


def _in_node(host_pid: int) -> int:
    """The PID as the node (its own PID namespace, where the probe runs) numbers it."""
    for line in Path(f"/proc/{host_pid}/status").read_bytes().decode("latin-1").split("\n"):
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError(f"no NSpid for {host_pid}")


def _run_probe(cluster: Sandbox, *pods: str) -> str:
    enter = ["nsenter", "-t", str(cluster.nodes["h1"].init_pid), "-m", "-p", "-u", "-i", "-C"]
    uids = [cluster.pod(p).uid for p in pods]
    done = subprocess.run(
        [*enter, "--", "sh", "-s", "--", "/var/lib/kubelet", *uids],
        input=load_script("inspect").encode(),
        capture_output=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    return done.stdout.decode("ascii")


@needs_root
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    comm=st.binary(min_size=1, max_size=15).map(lambda b: b.replace(b"\0", b"x")),
    arg=NO_NUL,
    forge=st.booleans(),
)
@example(comm=b"\r\v\f\x1c\x1d\x1e", arg="\x85\u2028".encode(), forge=True)
def test_real_processes_cannot_break_or_forge_a_neighbours_record(
    hostile: Sandbox, comm: bytes, arg: bytes, forge: bool
) -> None:
    victim = _in_node(hostile.pod("victim").containers[0].pids[0])
    if forge:  # a line imitating head's header of the victim's command line, then a lie
        arg += f"\n==> /proc/{victim}/cmdline <==\nFAKE all pods isolated\n".encode()
    pid = _in_node(
        _spawn_tenant(
            hostile, comm.decode("utf-8", "surrogateescape"), arg.decode("utf-8", "surrogateescape")
        )
    )
    text = _run_probe(hostile, "victim", "tenant")
    victims = {p.pid: p for p in parse_pod_dump(text, hostile.pod("victim").uid, "h1").processes}
    assert victims[victim].cmdline == "sleep infinity" and victims[victim].comm == "sleep"
    mine = {p.pid: p for p in parse_pod_dump(text, hostile.pod("tenant").uid, "h1").processes}
    expected_comm = comm.replace(b"\t", b" ").replace(b"\n", b" ")
    assert mine[pid].comm == expected_comm.decode("utf-8", "backslashreplace")
    argv = b"\0".join([b"sh", b"-c", _SET_COMM.encode(), b"sh", comm, arg]) + b"\0"
    lines = argv[:4096].replace(b"\0", b" ").replace(b"\t", b" ").split(b"\n")
    expected = b" ".join(line for line in lines if line).rstrip(b" ")
    assert mine[pid].cmdline == expected.decode("utf-8", "backslashreplace")


@needs_root
def test_a_tenant_comm_with_a_carriage_return_blinds_nothing(hostile: Sandbox) -> None:
    _spawn_tenant(hostile, "a\rb\x1c\u2028", "\x1b]0;owned\x07\x1b[2J")
    run = run_cli(["audit", "-A", "-o", "json"], hostile.env())
    assert (run.exit_code, run.stderr) == (1, "")  # the neighbour's host root is still seen
    rows = {row["name"]: row for row in json.loads(run.stdout)["pods"]}
    assert rows["rooted"]["verdict"] == "NOT ISOLATED"
    assert rows["victim"]["verdict"] == rows["tenant"]["verdict"] == "ISOLATED"
