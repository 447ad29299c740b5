"""Progress on a terminal: a ``rich`` bar when stderr is a TTY, nothing otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from migcompat.qemu.source.importer import Progress

_LABELS = {
    "headers": "reading headers",
    "sources": "reading sources",
    "tables": "compat tables and machines",
}


@contextlib.contextmanager
def terminal_progress(force: bool | None = None) -> Iterator[Progress | None]:
    """A ``progress(stage, done, total)`` callback drawing on stderr, or None if piped."""
    if not (sys.stderr.isatty() if force is None else force):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with RichProgress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = int(bar.add_task(_LABELS.get(stage, stage), total=total))
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update
