"""Pure ID-map and subordinate-ID arithmetic, on the real formats the kernel and shadow write."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from kubectl_userns.checks.idmap import (
    IdMapping,
    SubIdRange,
    format_id_map,
    is_host_map,
    parse_getsubids,
    parse_id_map,
    parse_kubelet_record,
    parse_subid_file,
    ranges_overlap,
)


def test_host_map_of_this_machine_is_recognised() -> None:
    with open("/proc/self/uid_map") as handle:
        mappings = parse_id_map(handle.read())
    assert is_host_map(mappings)


@pytest.mark.skipif(os.geteuid() != 0, reason="writing an arbitrary uid_map needs root")
def test_map_written_by_the_kernel_for_a_new_namespace() -> None:
    # the child waits on stdin until the parent (root in the parent namespace) wrote its maps
    child = subprocess.Popen(
        [
            "unshare",
            "--user",
            "--",
            "sh",
            "-c",
            "read go; cat /proc/self/uid_map /proc/self/gid_map",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for name in ("uid_map", "gid_map"):
            path = f"/proc/{child.pid}/{name}"
            deadline = time.monotonic() + 5  # until unshare(2) has happened in the child
            while os.readlink(f"/proc/{child.pid}/ns/user") == os.readlink("/proc/self/ns/user"):
                assert time.monotonic() < deadline, "the child never entered a new namespace"
                time.sleep(0.001)
            with open(path, "w") as handle:
                handle.write("0 4980736 65536\n")
        out, _ = child.communicate("go\n", timeout=10)
    finally:
        child.kill()
        child.wait()
    uid_line, gid_line = out.splitlines()
    assert parse_id_map(uid_line) == (IdMapping(0, 4980736, 65536),)
    assert parse_id_map(gid_line) == parse_id_map(uid_line)
    assert not is_host_map(parse_id_map(uid_line))


def test_joined_lines_and_conversions() -> None:
    mappings = parse_id_map("0 4980736 65536,65536 100000 10")
    assert format_id_map(mappings) == "0 4980736 65536, 65536 100000 10"
    first = mappings[0]
    assert first.to_host(0) == 4980736
    assert first.to_inside(4980736 + 65535) == 65535
    assert first.to_inside(4980736 + 65536) is None
    assert first.host_end == 5046272


@pytest.mark.parametrize("bad", ["0 1", "a b c", "0 0 0", "-1 0 5"])
def test_malformed_map_lines_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_id_map(bad)


def test_overlap() -> None:
    a = IdMapping(0, 65536, 65536)
    assert ranges_overlap(a, IdMapping(0, 131071, 10))
    assert not ranges_overlap(a, IdMapping(0, 131072, 65536))


def test_kubelet_record() -> None:
    text = (
        '{"uidMappings":[{"hostId":4980736,"containerId":0,"length":65536}],'
        '"gidMappings":[{"hostId":4980736,"containerId":0,"length":65536}]}'
    )
    record = parse_kubelet_record(text)
    assert record.uid_mappings == record.gid_mappings == (IdMapping(0, 4980736, 65536),)
    with pytest.raises(ValueError):
        parse_kubelet_record('{"uidMappings": [{"hostId": "x"}], "gidMappings": []}')
    with pytest.raises(ValueError):
        parse_kubelet_record("[]")


def test_subid_files_and_getsubids() -> None:
    text = "root:100000:65536\n# comment\nkubelet:65536:7208960\nbroken line\n1001:5:5\n"
    assert parse_subid_file(text) == [SubIdRange(65536, 7208960)]
    assert parse_subid_file(text, owner="nobody", owner_id=1001) == [SubIdRange(5, 5)]
    assert parse_getsubids("0: kubelet 65536 7208960\n") == [SubIdRange(65536, 7208960)]
    pool = SubIdRange(65536, 7208960)
    assert pool.contains(IdMapping(0, 4980736, 65536))
    assert not pool.contains(IdMapping(0, 65536 + 7208960 - 10, 65536))
    assert str(pool) == "65536-7274495 (7208960 IDs)"
