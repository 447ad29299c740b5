"""The collector paused over bulk work (gctools.py), and frozen only in a command's own
process (catalog/cache.py's FREEZE_LOADED)."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys

from migcompat.catalog import cache
from migcompat.gctools import collector_paused


def test_paused_blocks_nest_and_restore_the_collector() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # disabled before: left disabled
    finally:
        gc.enable()


def test_an_error_in_the_block_restores_the_collector() -> None:
    try:
        with collector_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()


def test_only_the_commands_own_process_freezes_what_it_loads(tmp_path: object) -> None:
    # in process (a test run, a program calling main(argv)): nothing is frozen
    from migcompat.cli.main import main

    with contextlib.suppress(SystemExit):
        main(["releases", "--catalog", "tutorial"])
    assert cache.FREEZE_LOADED is False
    # the program itself: the release it loaded is out of the collector's sight
    code = ("import gc, sys; sys.argv = ['migcompat', 'releases', '--catalog', 'qemu'];"
            "from migcompat.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "from migcompat.catalog import cache\n"
            "print(cache.FREEZE_LOADED, gc.get_freeze_count() > 0, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stderr.strip().splitlines()[-1] == "True True"
