"""Progress on a terminal: a ``rich`` bar on stderr when it is a TTY, nothing when piped.

Long work (importing a source tree, probing a binary, the cross-check) reports through a
``progress(stage, done, total)`` callback; this gives the one that draws it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping

Progress = Callable[[str, int, int], None]


@contextlib.contextmanager
def terminal_progress(labels: Mapping[str, str] | None = None,
                      force: bool | None = None) -> Iterator[Progress | None]:
    """A callback drawing one bar per stage (``labels`` names them), or None if piped."""
    if not (sys.stderr.isatty() if force is None else force):
        yield None
        return
    # rich only when there is a terminal to draw on (start-up)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    names = labels or {}
    with RichProgress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = int(bar.add_task(names.get(stage, stage), total=total or None))
            bar.update(tasks[stage], completed=done, total=total or None)  # type: ignore[arg-type]

        yield update
