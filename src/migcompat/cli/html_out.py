"""``--html FILE``: write a report page (migcompat/report/) whole or not at all."""

from __future__ import annotations

from pathlib import Path

import click

from migcompat.errors import UsageError
from migcompat.migration.atomic import AtomicFile

html_option = click.option(
    "--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="FILE", help="Also write an HTML report: one static page, no server needed "
                         "(docs/report.md).")


def write_html(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (migration/atomic.py): a failure leaves no
    partial file, and is a usage error (exit 2) naming the path."""
    try:
        part = AtomicFile(path)
    except OSError as exc:
        raise UsageError(f"--html {path}: {exc.strerror or exc}") from exc
    try:
        part.file.write(text.encode("utf-8"))
        part.commit()
    except OSError as exc:
        raise UsageError(f"--html {path}: {exc.strerror or exc}") from exc
    finally:
        part.discard()
