"""A digest of the scenario files a run used: two runs compare only if it matches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SuiteDigest:
    sha256: str
    files: list[str]  # relative POSIX paths, sorted


def suite_digest(files: Iterable[Path], roots: Sequence[Path]) -> SuiteDigest:
    """SHA-256 over the sorted relative paths and contents of the scenario files.

    Paths are taken relative to the suite folder that holds them (a file
    given directly counts by its name), with ``/`` separators, so that the
    digest is the same on every machine and checkout location.  Each entry is
    ``path NUL length NUL content``: no two different file sets hash alike by
    moving bytes between a name and a content.
    """
    resolved_roots = [r.resolve() for r in roots]
    entries: dict[str, bytes] = {}
    for f in files:
        path = f.resolve()
        rel = path.name
        for root in resolved_roots:
            if root.is_dir() and path.is_relative_to(root):
                rel = path.relative_to(root).as_posix()
                break
        entries[rel] = path.read_bytes()
    digest = hashlib.sha256()
    for rel in sorted(entries):
        content = entries[rel]
        digest.update(rel.encode("utf-8") + b"\0" + str(len(content)).encode() + b"\0")
        digest.update(content)
    return SuiteDigest(digest.hexdigest(), sorted(entries))
