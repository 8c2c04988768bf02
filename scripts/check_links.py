#!/usr/bin/env python3
"""Check that every relative link and anchor in the project's Markdown resolves.

Checks README.md, CONTRIBUTING.md and docs/**/*.md (or the files given on the command line):
each inline link or image ``[text](target)``, each reference definition ``[id]: target`` and
each HTML ``href``/``src`` whose target is not an external URL (``http:``, ``https:``,
``mailto:``) must name a file or folder inside the repository, and its ``#anchor``, if any, must
be a heading of the target Markdown file (GitHub's slug rules). Links in code spans and fenced
code blocks are ignored. Absolute paths and paths that leave the repository are errors.

Exit status: 0 when everything resolves, 1 when something does not (each problem printed as
``file:line: message``), 2 on a usage error. Standard library only.

    python3 scripts/check_links.py
    python3 scripts/check_links.py --allow-missing docs/python.md   # a page another branch adds
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_ANCHOR = re.compile(r"""<a\b[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One link that does not resolve."""

    file: Path
    line: int
    message: str

    def render(self, root: Path) -> str:
        """``file:line: message`` with the file relative to ``root``."""
        return f"{self.file.relative_to(root)}:{self.line}: {self.message}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped,
    spaces turned into hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("\\", "")
    text = text.lower()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LN" or cat == "Mn":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def strip_code(lines: list[str]) -> list[str]:
    """The lines with fenced code blocks blanked and code spans removed (line count kept)."""
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            out.append("")
            continue
        if fence is not None:
            if m and m.group(1).startswith(fence):
                fence = None
            out.append("")
            continue
        out.append(CODE_SPAN.sub("", line))
    return out


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file defines: heading slugs (duplicates numbered as GitHub does)
    and explicit ``<a id=...>`` / ``<a name=...>``."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for raw, line in zip(lines, strip_code(lines)):
        if not line.strip():
            continue  # blank or inside a fence (headings in code are not headings)
        m = HEADING.match(raw)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
        result.update(HTML_ANCHOR.findall(line))
    return result


def targets(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, target) of every link in the given (code-stripped) lines."""
    found: list[tuple[int, str]] = []
    for no, line in enumerate(lines, start=1):
        for m in INLINE.finditer(line):
            found.append((no, m.group(1)))
        m = REFDEF.match(line)
        if m:
            found.append((no, m.group(1)))
        for m in HTML.finditer(line):
            found.append((no, m.group(1)))
    return [(no, t[1:-1] if t.startswith("<") and t.endswith(">") else t) for no, t in found]


def check_file(path: Path, root: Path, allow_missing: set[Path], cache: dict[Path, set[str]]) -> list[Problem]:
    """Every problem with the links of one Markdown file."""
    problems: list[Problem] = []
    lines = strip_code(path.read_text(encoding="utf-8").splitlines())
    for no, target in targets(lines):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part)
        if file_part.startswith("/"):
            problems.append(Problem(path, no, f"absolute path {target!r}: use a path relative to the file"))
            continue
        dest = (path.parent / file_part).resolve() if file_part else path.resolve()
        try:
            rel = dest.relative_to(root)
        except ValueError:
            problems.append(Problem(path, no, f"{target!r} leaves the repository"))
            continue
        if not dest.exists():
            if rel in allow_missing:
                continue
            problems.append(Problem(path, no, f"{target!r}: no such file {str(rel)!r}"))
            continue
        if anchor:
            if dest.is_dir() or dest.suffix.lower() not in {".md", ".markdown"}:
                continue  # anchors into non-Markdown files (line numbers, HTML ids) are not checked
            if dest not in cache:
                cache[dest] = anchors(dest)
            if unquote(anchor).lower() not in cache[dest]:
                problems.append(Problem(path, no, f"{target!r}: no heading with anchor #{anchor} in {str(rel)!r}"))
    return problems


def default_files(root: Path) -> list[Path]:
    """README.md, CONTRIBUTING.md and docs/**/*.md that exist under ``root``."""
    files = [root / name for name in ("README.md", "CONTRIBUTING.md") if (root / name).is_file()]
    files += sorted((root / "docs").rglob("*.md")) if (root / "docs").is_dir() else []
    return files


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md, CONTRIBUTING.md, docs/**/*.md)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="repository root (default: this script's parent folder's parent)")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="PATH", help="a repository path that may be missing (a page another branch adds); repeatable")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not root.is_dir():
        parser.error(f"--root {args.root}: not a folder")
    files = [f.resolve() for f in args.files] or default_files(root)
    for f in files:
        if not f.is_file():
            parser.error(f"{f}: no such file")
    allow = {Path(p) for p in args.allow_missing}
    cache: dict[Path, set[str]] = {}
    problems: list[Problem] = []
    links = 0
    for f in files:
        links += len(targets(strip_code(f.read_text(encoding="utf-8").splitlines())))
        problems += check_file(f, root, allow, cache)
    for p in problems:
        print(p.render(root) if p.file.is_relative_to(root) else f"{p.file}:{p.line}: {p.message}")
    status = "ok" if not problems else f"{len(problems)} broken"
    print(f"check_links: {len(files)} files, {links} links, {status}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
