"""The manifests ``convert`` reads: files, directories, pipes and stdin, as kubectl reads them.

Each file is read once (by device and inode), an unreadable directory is an error rather than an
empty one, and a text is JSON when it starts with '{' (kubectl's YAMLOrJSONDecoder), else YAML
(:mod:`.yamlread`).
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.errors import InputError, NotFoundError
from kubectl_userns.manifests import yamlread

SUFFIXES = (".yaml", ".yml", ".json")  # what kubectl reads from a directory


@dataclass
class Source:
    """One file (or stdin) and the objects kubectl reads from it."""

    name: str
    text: str
    is_json: bool
    objects: list[Any] = field(default_factory=list)  # as kubectl reads them
    viewer: yamlread.Viewer | None = None  # YAML: which node each mapping came from


def read_sources(paths: list[str], stdin_text: str | None = None) -> list[Source]:
    """Every file named by ``-f`` (directories recursively, each file once) and ``-``."""
    sources: list[Source] = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        if raw == "-":
            sources.append(parse("<stdin>", stdin_text or ""))
            continue
        for file in _files(raw):
            try:
                # identity before open: opening a pipe a second time would wait for a writer
                identity = os.stat(file)
                key = (identity.st_dev, identity.st_ino)
                if key in seen:
                    continue  # the same file again (-f a -f a, -f dir -f dir/a, a link, a pipe)
                seen.add(key)
                with open(file, encoding="utf-8") as handle:
                    text = handle.read()
            except UnicodeDecodeError:
                raise InputError(f"{file}: not UTF-8 text; a manifest must be.") from None
            except OSError as exc:
                raise InputError(f"{file}: cannot read it ({exc.strerror}).") from None
            sources.append(parse(file, text))
    return sources


def _files(raw: str) -> list[str]:
    try:
        info = os.stat(raw)
    except FileNotFoundError:
        raise NotFoundError(f"{raw}: no such file or directory; pass -f FILE, DIR or -.") from None
    except OSError as exc:
        raise InputError(f"{raw}: cannot read it ({exc.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        return _walk(raw)
    if stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
        return [raw]  # a pipe too: -f <(helm template ...)
    raise InputError(f"{raw}: not a file, directory or pipe; pass -f FILE, DIR or -.")


def _walk(top: str) -> list[str]:
    """The manifest files under a directory, sorted; an unreadable directory is an error, not
    an empty one (os.walk and Path.rglob skip those silently)."""

    def refuse(exc: OSError) -> None:
        raise InputError(f"{exc.filename}: cannot read this directory ({exc.strerror}).")

    found = []
    for folder, dirs, files in os.walk(top, onerror=refuse):
        dirs.sort()
        for name in files:
            if not name.endswith(SUFFIXES):
                continue
            path = os.path.join(folder, name)
            try:
                regular = stat.S_ISREG(os.stat(path).st_mode)
            except OSError as exc:
                raise InputError(f"{path}: cannot read it ({exc.strerror}).") from None
            if not regular:
                raise InputError(
                    f"{path}: not a regular file; a directory is read only for its files "
                    "(give a pipe with -f PATH)."
                )
            found.append(path)
    return sorted(found)


def parse(name: str, text: str) -> Source:
    """The objects of one file. JSON when it starts with '{', as kubectl's YAMLOrJSONDecoder
    decides (k8s.io/apimachinery pkg/util/yaml/decoder.go), else YAML."""
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith("{"):
        return Source(name, text, True, _parse_json(name, text))
    viewer = yamlread.Viewer(name)
    objects = []
    for document in yamlread.compose(name, text):
        if document.root is not None:
            value = viewer.view(document.root)
            if value is not None:
                objects.append(value)
    return Source(name, text, False, objects, viewer)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _parse_json(name: str, text: str) -> list[Any]:
    """A stream of JSON objects (kubectl reads `{...}{...}` as two); duplicate keys: the last
    wins, as in Go's encoding/json."""
    decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
    objects, at = [], 0
    try:
        while True:
            while at < len(text) and text[at] in " \t\r\n":
                at += 1
            if at == len(text):
                break
            value, at = decoder.raw_decode(text, at)
            objects.append(value)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid JSON at line {exc.lineno} ({exc.msg}); fix the file."
        ) from None
    except ValueError as exc:
        line = text.count("\n", 0, at) + 1
        raise InputError(f"{name}: not valid JSON at line {line} ({exc}); fix the file.") from None
    except RecursionError:
        raise InputError(
            f"{name}: nested more than {yamlread.MAX_DEPTH} levels deep; no Kubernetes object "
            "is, fix the file."
        ) from None
    for value in objects:
        if _depth(value) > yamlread.MAX_DEPTH:
            raise InputError(
                f"{name}: nested more than {yamlread.MAX_DEPTH} levels deep; no Kubernetes "
                "object is, fix the file."
            )
    return objects


def _depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            todo += [(child, depth + 1) for child in children]
    return deepest
