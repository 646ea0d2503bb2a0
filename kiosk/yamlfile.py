"""YAML loading that remembers the line of every key, for errors that name file:line: key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kiosk.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document plus the 1-based line of each key path."""

    file: str
    data: Any
    lines: dict[KeyPath, int]

    def where(self, path: KeyPath) -> str:
        """`file:line` of the deepest known prefix of `path`."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return f"{self.file}:{line}"
        return self.file


def dotted(path: KeyPath) -> str:
    """`hook.pin`, `clips[2].file`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def load_yaml(path: Path) -> YamlDoc:
    """Read and parse `path` with safe_load; syntax errors become a ConfigError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{path}: cannot read: {e}"]) from e
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str) -> YamlDoc:
    """Parse YAML text; `file` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{file}{line}: invalid YAML: {e.problem or e}"]) from e
    except yaml.YAMLError as e:
        raise ConfigError([f"{file}: invalid YAML: {e}"]) from e
    lines: dict[KeyPath, int] = {}
    problems: list[str] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, problems, file)
    if problems:
        raise ConfigError(problems)
    return YamlDoc(file, data, lines)


def _walk(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], problems: list[str], file: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*path, str(key_node.value))
            line = key_node.start_mark.line + 1
            if sub in lines:
                # PyYAML silently keeps the last of duplicate keys; a site file must not.
                problems.append(
                    f"{file}:{line}: {dotted(sub)}: duplicate key (first on line {lines[sub]})"
                )
                continue
            lines[sub] = line
            _walk(value_node, sub, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, problems, file)
