"""verify-node's catalogue: every check a report can hold is registered, in the report's order,
with the source it reports, what it reads and where its rule comes from."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from kubectl_userns.checks.node import (
    Context,
    build_report,
    catalogue,
    node_info,
    settings_from_configz,
    settings_from_node,
)
from kubectl_userns.checks.node.catalogue import REPORT_ORDER, register
from kubectl_userns.probe.node_dump import parse_node_dump
from kubectl_userns.sandbox.objects import kubelet_config, make_node

DATA = Path(__file__).parent / "data" / "node"


def test_every_rule_says_what_it_reads_expects_and_where_it_comes_from() -> None:
    rules = catalogue()
    assert [rule.id for rule in rules] == list(REPORT_ORDER)
    for rule in rules:
        assert rule.reads and all(rule.reads), rule.id
        assert rule.expects.strip(), rule.id
        assert rule.upstream and all(rule.upstream), rule.id


def test_a_check_cannot_be_registered_twice_or_outside_the_order() -> None:
    with pytest.raises(ValueError, match="twice"):
        register("pool-size", area="ID pool", source="node", reads=("x",), expects="", upstream=())
    with pytest.raises(ValueError, match="REPORT_ORDER"):
        register("no-such", area="ID pool", source="node", reads=("x",), expects="", upstream=())


def contexts() -> list[Context]:
    found = []
    texts: list[str | None] = [None, *sorted(p.read_text() for p in DATA.glob("*.probe.txt"))]
    configs = [kubelet_config(), {**kubelet_config(), "rootDir": "/srv/kubelet"}]
    for text, kubelet, probe, config in itertools.product(
        texts, ("v1.27.3", "v1.33.1", "v1.36.0"), (False, True), (*configs, None)
    ):
        dump = parse_node_dump(text, "wk1") if text else None
        if dump is not None and kubelet == "v1.27.3":
            dump = dataclasses.replace(dump, probe_uid=1000)  # logged in without root
        node = make_node("wk1", "127.0.0.1", kubelet_version=kubelet)
        settings = (
            settings_from_configz(config)
            if config is not None
            else settings_from_node(dump, "403 Forbidden")
        )
        found.append(
            Context(
                info=node_info(node),
                settings=settings,
                dump=dump,
                kubelet_root="/var/lib/kubelet",
                probe_requested=probe,
                pods={},
            )
        )
    return found


def test_reports_hold_registered_checks_in_order_from_their_sources() -> None:
    rules = {rule.id: rule for rule in catalogue()}
    seen: set[str] = set()
    for ctx in contexts():
        checks = build_report(ctx)["checks"]
        ids = [check["id"] for check in checks]
        assert ids == sorted(ids, key=REPORT_ORDER.index), ids
        assert len(ids) == len(set(ids)), ids
        for check in checks:
            rule = rules[check["id"]]
            assert check["source"] in rule.sources, (check, rule.sources)
            if ctx.dump is None:
                assert rule.source == "api", check
        seen.update(ids)
    assert seen == set(REPORT_ORDER)
