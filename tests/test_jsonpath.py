"""kubectl's JSONPath templates and custom-columns specs (cli/jsonpath.py): the text users give
to -o is untrusted input, so properties over any text as well as kubectl's own examples."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_userns.cli import jsonpath
from kubectl_userns.errors import UsageError

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=10,
)


@given(st.text().filter(lambda t: "{" not in t))
def test_text_without_actions_prints_as_it_is(text: str) -> None:
    assert jsonpath.render(text, {"a": 1}) == text


@settings(max_examples=300)
@given(st.text(alphabet='{}[]().@$*?=!<>"\\ ,:abc01-', max_size=30), JSON_VALUES)
def test_any_template_renders_or_is_a_usage_error(template: str, data: Any) -> None:
    try:
        assert isinstance(jsonpath.render(template, data), str)
    except UsageError as exc:
        assert exc.message.startswith("-o jsonpath")
        assert "\n" not in exc.message


@given(st.lists(NAMES, max_size=6))
def test_kubectls_items_dialect(names: list[str]) -> None:
    data = {"kind": "List", "items": [{"metadata": {"name": n}} for n in names]}
    assert jsonpath.render("{.items[*].metadata.name}", data) == " ".join(names)
    each = '{range .items[*]}{.metadata.name}{"\\n"}{end}'
    assert jsonpath.render(each, data) == "".join(f"{n}\n" for n in names)
    # the same without the leading dot, or from $ or @
    assert jsonpath.render("{items[*].metadata.name}", data) == " ".join(names)
    assert jsonpath.render("{$.items[*].metadata.name}", data) == " ".join(names)


@given(JSON_VALUES)
def test_the_current_object_and_literals(data: Any) -> None:
    expected = jsonpath.text_of(data)
    assert jsonpath.render("{@}", data) == expected
    assert jsonpath.render("{.}", data) == expected
    assert jsonpath.render('{"}{"}', data) == "}{"  # braces inside a quoted literal are text


def _go_quote(text: str, quote: str) -> str:
    """``text`` as a Go string literal in ``quote`` (what strconv.Quote would write, by hand)."""
    out = []
    for char in text:
        if char in ("\\", quote):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif not char.isprintable() or 0xD800 <= ord(char) < 0xE000:
            out.append(f"\\U{ord(char):08x}" if ord(char) > 0xFFFF else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


@given(st.text(max_size=20).filter(lambda t: all(not 0xD800 <= ord(c) < 0xE000 for c in t)),
       st.sampled_from(["'", '"']))  # fmt: skip
def test_quoted_literals_read_as_kubectl_reads_them(text: str, quote: str) -> None:
    """kubectl's UnquoteExtend takes either quote with Go's escapes (client-go
    util/jsonpath/parser.go); what Go would quote reads back as it was, inside a template too."""
    literal = _go_quote(text, quote)
    assert jsonpath.unquote(literal) == text
    assert jsonpath.render("{" + literal + "}", {}) == text


@given(st.text(alphabet="'\"\\abnxu0178{}", max_size=12))
def test_any_literal_is_read_or_a_usage_error(literal: str) -> None:
    try:
        assert isinstance(jsonpath.unquote(literal), str)
    except UsageError as exc:
        assert exc.message.startswith("-o jsonpath: bad string literal")


def test_go_escapes_in_literals() -> None:
    unquote = jsonpath.unquote
    assert unquote("'\\n'") == unquote('"\\n"') == "\n"
    assert unquote('"\\x41\\101\\u00e9\\U0001F600\\t"') == "AA\u00e9\U0001f600\t"
    assert unquote("'it\\'s'") == "it's" and unquote('"say \\"hi\\""') == 'say "hi"'
    for bad in ('"a', '"\\q"', "'\\\"'", '"\\777"', '"\\ud800"', '"a"b"'):
        try:
            unquote(bad)
        except UsageError as exc:
            assert exc.message == f"-o jsonpath: bad string literal {bad}."
        else:
            raise AssertionError(f"{bad} was taken")


def test_kubectl_examples() -> None:
    data = {
        "kind": "List",
        "items": [
            {"metadata": {"name": "a"}, "status": {"phase": "Running"}, "n": 1},
            {"metadata": {"name": "b"}, "status": {"phase": "Pending"}, "n": 2},
        ],
    }
    render = jsonpath.render
    assert render('{.items[?(@.status.phase=="Running")].metadata.name}', data) == "a"
    assert render("{.items[?(@.n > 1)].metadata.name}", data) == "b"
    assert render("{.items[-1:].metadata.name}", data) == "b"
    assert render("{.items[0,1].n}", data) == "1 2"
    assert render("{..name}", data) == "a b"
    assert render("{.items[0].metadata}", data) == '{"name":"a"}'
    assert render("{.kind}{.nope}", data) == "List"  # missing keys print nothing
    labels = {"metadata": {"labels": {"app-name": "web", "kubernetes.io/os": "linux"}}}
    assert render("{.metadata.labels.app-name}", labels) == "web"
    assert render("{.metadata.labels.kubernetes\\.io/os}", labels) == "linux"
    assert render("{.metadata.labels['kubernetes.io/os']}", labels) == "linux"
    nested = "{range .items[*]}[{.metadata.name}:{range .status.*}{@}{end}]{end}"
    assert render(nested, data) == "[a:Running][b:Pending]"


@given(st.text(max_size=40))
def test_any_custom_columns_spec_parses_or_is_a_usage_error(spec: str) -> None:
    try:
        headers, expressions = jsonpath.parse_columns(spec)
    except UsageError as exc:
        assert exc.message.startswith("-o custom-columns")
    else:
        assert len(headers) == len(expressions) >= 1
        assert all(e.startswith(".") for e in expressions)


@given(st.lists(st.tuples(NAMES, JSON_VALUES), min_size=1, max_size=4))
def test_custom_columns_take_each_key(pairs: list[tuple[str, Any]]) -> None:
    record = dict(pairs)
    spec = ",".join(f"H{i}:{{.{key}}}" for i, key in enumerate(record))
    headers, expressions = jsonpath.parse_columns(spec)
    row = jsonpath.column_values(expressions, record)
    assert headers == [f"H{i}" for i in range(len(record))]
    for cell, value in zip(row, record.values(), strict=True):
        # one value each (a list or map prints as JSON); nothing to print is <none>
        assert cell == (jsonpath.text_of(value) or "<none>")
