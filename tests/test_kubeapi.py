"""Kubeconfig handling as kubectl does it, and API failures mapped to domain errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubectl_userns.access.api import KubeClient
from kubectl_userns.errors import APIUnreachableError, KubeconfigError
from kubectl_userns.options import ClusterOptions

CLUSTERS = """apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {{server: "{server}"}}
users:
- name: u1
  user: {{token: secret-token-value}}
"""
CONTEXTS = """apiVersion: v1
kind: Config
current-context: shop
contexts:
- name: shop
  context: {cluster: c1, user: u1, namespace: shop}
- name: plain
  context: {cluster: c1, user: u1}
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def split_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two files in $KUBECONFIG (--kubeconfig names one file, as for kubectl)."""
    first = tmp_path / "clusters.yaml"
    first.write_text(CLUSTERS.format(server=f"http://127.0.0.1:{_closed_port()}"))
    second = tmp_path / "contexts.yaml"
    second.write_text(CONTEXTS)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    return f"{first}:{second}"


def test_kubeconfig_paths_joined_with_colon_are_merged(split_kubeconfig: str) -> None:
    client = KubeClient.from_options(ClusterOptions())
    assert client.namespace == "shop"
    assert client.server.startswith("http://127.0.0.1:")


def test_context_namespace_and_flag_precedence(split_kubeconfig: str) -> None:
    plain = KubeClient.from_options(ClusterOptions(context="plain"))
    assert plain.namespace == "default"
    flagged = KubeClient.from_options(ClusterOptions(context="plain", namespace="kube-system"))
    assert flagged.namespace == "kube-system"


def test_unknown_context_is_bad_input(split_kubeconfig: str) -> None:
    with pytest.raises(KubeconfigError) as caught:
        KubeClient.from_options(ClusterOptions(context="nope"))
    assert caught.value.exit_code == 2
    assert 'context "nope" is not in the kubeconfig (contexts: plain, shop)' in str(caught.value)


def test_missing_kubeconfig_file(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError) as caught:
        KubeClient.from_options(ClusterOptions(kubeconfig=str(tmp_path / "absent")))
    assert "--kubeconfig" in caught.value.message


def test_unreachable_api_is_exit_3_and_hides_the_token(split_kubeconfig: str) -> None:
    client = KubeClient.from_options(ClusterOptions(context="plain"))
    with pytest.raises(APIUnreachableError) as caught:
        client.get_pod("testpod")
    assert caught.value.exit_code == 3
    assert "connection refused" in caught.value.message
    assert "secret-token-value" not in caught.value.message
