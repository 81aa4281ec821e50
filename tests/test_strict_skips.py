"""The test command's --strict-skips: a skip in CI fails unless no set-up could change it."""

from __future__ import annotations

import pytest

DEMO = """
import pytest

def test_needs_a_tool():
    pytest.skip("pipx is not installed")

def test_needs_another_machine():
    pytest.skip("machine: needs a Python older than 3.10")

@pytest.mark.skipif(True, reason="kubectl is not on PATH")
def test_marked():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    raise AssertionError

def test_plain():
    pass
"""


def test_a_skip_fails_unless_its_reason_is_the_machine(pytester: pytest.Pytester) -> None:
    # in-process: a fresh pytest session with its own options and plugins, loading the plugin
    # (tests/strict_skips.py) as the test command does; a subprocess would add two pytest
    # start-ups (about 2.5 s of CPU each, with this environment's entry-point plugins)
    pytester.makeconftest("pytest_plugins = ('tests.strict_skips',)")
    pytester.makepyfile(test_demo=DEMO)
    strict = pytester.runpytest_inprocess("--strict-skips", "-p", "no:randomly", "-rA")
    strict.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1)
    strict.stdout.fnmatch_lines(["*skipped in the test command (pipx is not installed)*"])
    lenient = pytester.runpytest_inprocess("-p", "no:randomly")
    lenient.assert_outcomes(passed=1, skipped=3, xfailed=1)
