"""YAML loading that keeps line/column information (ruamel.yaml round-trip mode)."""

from __future__ import annotations

import datetime as _dt
import io
from pathlib import Path
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from cps.diagnostics import Diagnostic, Location, rule

YAML_SYNTAX = rule("YML001", "yaml-syntax", "A YAML file cannot be parsed.")


class YamlFile:
    """A parsed YAML document plus where it came from."""

    def __init__(self, rel: str, data: Any, text: str):
        self.rel = rel
        self.data = data
        self.text = text

    def loc(self, *path: Any) -> Location:
        line, col = locate(self.data, path)
        return Location(self.rel, line, col)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    return y


def parse_yaml(text: str, rel: str) -> tuple[YamlFile | None, list[Diagnostic]]:
    """Parse YAML keeping line and column information. Results are cached by content: ruamel's
    round-trip parser is pure Python and `cps check` reads every file on each run."""
    import ruamel.yaml

    from cps import cache

    def compute():
        try:
            return _yaml().load(text), []
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = (mark.line + 1) if mark else 1
            col = (mark.column + 1) if mark else 1
            problem = exc.problem or "invalid YAML"
            ctx = f" ({exc.context})" if exc.context else ""
            return None, [YAML_SYNTAX.at(Location(rel, line, col), f"YAML syntax error: {problem}{ctx}")]
        except YAMLError as exc:  # pragma: no cover - unusual loader errors
            return None, [YAML_SYNTAX.at(Location(rel, 1, 1), f"YAML error: {exc}")]

    data, diags = cache.cached("yaml", (ruamel.yaml.__version__, rel, text), compute)
    if data is None and diags:
        return None, diags
    return YamlFile(rel, data, text), []


def load_yaml(root: Path, rel: str) -> tuple[YamlFile | None, list[Diagnostic]]:
    path = root / rel
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [YAML_SYNTAX.at(Location(rel, 1, 1), f"file is not UTF-8: {exc.reason}")]
    return parse_yaml(text, rel)


def locate(node: Any, path: Iterable[Any]) -> tuple[int, int]:
    """1-based (line, col) of the value at ``path`` inside a ruamel node; nearest known parent."""
    line, col = 1, 1
    if hasattr(node, "lc") and node.lc.line is not None:
        line, col = node.lc.line + 1, node.lc.col + 1
    for key in path:
        try:
            if isinstance(node, CommentedMap) and key in node:
                pos = node.lc.value(key) if not isinstance(node[key], (CommentedMap, CommentedSeq)) else node.lc.key(key)
                if pos is not None:
                    line, col = pos[0] + 1, pos[1] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                pos = node.lc.item(key)
                if pos is not None:
                    line, col = pos[0] + 1, pos[1] + 1
                node = node[key]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    return line, col


def to_plain(node: Any) -> Any:
    """Convert ruamel nodes to plain JSON-compatible Python values."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (_dt.date, _dt.datetime)):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)
    return node


def dump_yaml(data: Any) -> str:
    """Canonical round-trip dump used by ``cps fmt``."""
    y = _yaml()
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096  # never re-wrap prose: wrapped plain scalars gain trailing spaces
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()
