"""pytest plugin (loaded by tests/conftest.py, switched on by the test command's
``--strict-skips``): a skipped test is a failure.

CI runs the test command on a fresh machine that the command itself sets up; a test skipped
there (pipx missing, no kubectl, not root) is a test CI never ran, so it must not look green.
The one exception is a skip for a reason no set-up step can change on this kind of machine,
whose reason starts with ``machine:`` (e.g. an old Python that only some machines have).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

ALLOWED_PREFIX = "machine:"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--strict-skips",
        action="store_true",
        help="fail every skipped test whose reason does not start with 'machine:'",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not item.config.getoption("strict_skips") or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(ALLOWED_PREFIX):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in the test command ({reason}): the test command must set up what this test "
        f"needs, or the skip reason must start with {ALLOWED_PREFIX!r} if no set-up can"
    )
