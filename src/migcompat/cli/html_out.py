"""``--html FILE`` (``options.html_option``): write a report page (migcompat/report/)
whole or not at all.

The file is opened before the work starts, so a bad path fails at once (a usage error,
exit 2, one line), and it appears only when the page is complete (migration/atomic.py):
an error on the way leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from migcompat.errors import UsageError
from migcompat.migration.atomic import AtomicFile


class HtmlOutput:
    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise UsageError(f"--html {path}: is a directory")
        try:
            self.part = AtomicFile(path)
        except OSError as exc:
            raise UsageError(f"--html {path}: {exc.strerror or exc}") from exc

    def write(self, text: str) -> None:
        """Write the whole page and put it in place."""
        try:
            self.part.file.write(text.encode("utf-8"))
            self.part.commit()
        except OSError as exc:
            raise UsageError(f"--html {self.path}: {exc.strerror or exc}") from exc
        finally:
            self.part.discard()


@contextlib.contextmanager
def html_output(path: Path | None) -> Iterator[HtmlOutput | None]:
    """The page's file for the command's lifetime (``ctx.with_resource``), or None when
    there is no ``--html``; unless written, it is discarded."""
    if path is None:
        yield None
        return
    out = HtmlOutput(path)
    try:
        yield out
    finally:
        out.part.discard()
