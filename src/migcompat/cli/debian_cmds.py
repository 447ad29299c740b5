"""``builds`` and ``sources``: the pinned Debian packages of real QEMU (catalogs.lock.toml)."""

from __future__ import annotations

from pathlib import Path

import click

from migcompat.errors import UsageError

lock_option = click.option(
    "--lock", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="The lock file (default: the repository's catalogs.lock.toml).")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
ids_argument = click.argument("ids", nargs=-1, metavar="[ID|all]...")


def _chosen(pins: dict[str, object], which: tuple[str, ...], eligible: list[str]) -> list[str]:
    """The release ids asked for: ``eligible`` for none or ``all``, else each one, checked."""
    if not which or which == ("all",):
        return eligible
    for i in which:
        if i not in pins:
            raise UsageError(f"no [[build]] pin for release {i!r} (have {', '.join(pins)})")
    return list(which)


@click.group("builds", epilog="""\b
Examples:
  migcompat builds fetch all
  migcompat builds show 5.2
  migcompat builds fetch 7.2 --use private
  migcompat builds verify
  migcompat builds resolve 5.2
  migcompat builds resolve 7.2 --against trixie
""")
def builds_group() -> None:
    """The real QEMU builds pinned in catalogs.lock.toml ([[build]]), unpacked privately.

    A build pinned with a system binary (7.2) runs it when it is the pinned build, else its
    private build; MIGCOMPAT_BUILD_7_2=auto|system|private (or --use) chooses. Builds are
    cached in $MIGCOMPAT_CACHE/builds (default ~/.cache/migcompat/builds); nothing is
    installed. See docs/real-migrations.md.
    """


use_option = click.option(
    "--use", type=click.Choice(["auto", "system", "private"]), default=None,
    help="For a build pinned with a system binary: auto (the system's when it is the pinned "
         "build, else private), system or private. Default: $MIGCOMPAT_BUILD_<id>, else auto.")


def _runnable(action: str, ids: tuple[str, ...], lock: Path | None, use: str | None,
              quiet: bool) -> None:
    # imported when the command runs: `migcompat --help` need not load apt and QEMU code
    from migcompat.qemu.debian.builds import build, smoke
    from migcompat.qemu.debian.lock import load_build_pins

    pins = load_build_pins(lock)
    fetching = action == "fetch"
    eligible = [i for i, p in pins.items() if p.unpackable() or not fetching]
    for i in _chosen(dict(pins), ids, eligible):
        pin = pins[i]
        b = build(i, fetch_missing=fetching, lock=lock, quiet=quiet,
                  use=use if pin.system else None)
        if action == "verify":
            click.echo(f"{i}\tDebian {b.version}\tpaused start ok: QEMU {smoke(b)}")
        else:
            extra = " ".join(f"{k}={v}" for k, v in b.variables().items())
            click.echo(f"{i}\t{extra + ' ' if extra else ''}{b.binary} {' '.join(b.args())}")


@builds_group.command("fetch")
@ids_argument
@lock_option
@use_option
@quiet_option
def builds_fetch(ids: tuple[str, ...], lock: Path | None, use: str | None, quiet: bool) -> None:
    """Download, unpack and verify builds (default: every build with packages pinned)."""
    _runnable("fetch", ids, lock, use, quiet)


@builds_group.command("show")
@ids_argument
@lock_option
@use_option
def builds_show(ids: tuple[str, ...], lock: Path | None, use: str | None) -> None:
    """Print what to run for each build: its environment, binary and -L."""
    _runnable("show", ids, lock, use, True)


@builds_group.command("verify")
@ids_argument
@lock_option
@use_option
def builds_verify(ids: tuple[str, ...], lock: Path | None, use: str | None) -> None:
    """Check each build: -version is the pinned build, and a paused start works."""
    _runnable("verify", ids, lock, use, True)


@builds_group.command("resolve")
@ids_argument
@lock_option
@click.option("--against", metavar="CODENAME", default=None,
              help="What a host of that Debian release (e.g. trixie) cannot install, "
                   "instead of what this host lacks.")
def builds_resolve(ids: tuple[str, ...], lock: Path | None, against: str | None) -> None:
    """List the packages a build needs that the host lacks (to update the lock's libraries)."""
    # imported when the command runs: `migcompat --help` need not load apt and QEMU code
    from migcompat.qemu.debian.apt import PrivateApt
    from migcompat.qemu.debian.builds import cache_root
    from migcompat.qemu.debian.deps import release_packages, unmet_dependencies
    from migcompat.qemu.debian.lock import load_build_pins

    pins = load_build_pins(lock)
    for i in _chosen(dict(pins), ids, [i for i, p in pins.items() if p.unpackable()]):
        pin = pins[i]
        apt = PrivateApt.for_build(pin, cache_root())
        apt.prepare()
        apt.update()
        host = release_packages(pin, against, cache_root()) if against else None
        for name, version in sorted(unmet_dependencies(pin, apt, host).items()):
            click.echo(f'{i}\t{name} = "{version}"')


@click.command("sources", epilog="""\b
Examples:
  migcompat sources                      # every pinned tree, into the cache
  migcompat sources 7.2 --print-path
  migcompat sources 10.2 --print-sha256  # the .dsc digest, to pin it in the lock file
""")
@ids_argument
@lock_option
@click.option("--print-path", is_flag=True, help="Print each tree's path.")
@click.option("--print-sha256", is_flag=True,
              help="Print each .dsc digest, to pin it in the lock file.")
@quiet_option
def sources_command(ids: tuple[str, ...], lock: Path | None, print_path: bool,
                    print_sha256: bool, quiet: bool) -> None:
    """Fetch the pinned QEMU source trees (catalogs.lock.toml [[release]]) into the cache.

    Each is the Debian source package with Debian's patches applied, downloaded through a
    private APT configuration and unpacked with dpkg-source into $MIGCOMPAT_CACHE/sources
    (default ~/.cache/migcompat/sources). See docs/import-source.md.
    """
    # imported when the command runs: `migcompat --help` need not load apt and QEMU code
    from migcompat.qemu.debian.lock import STAMP, load_pins
    from migcompat.qemu.debian.sources import fetch

    pins = load_pins(lock)
    for release_id in ids or tuple(pins):
        if release_id not in pins:
            raise UsageError(f"no pin for release {release_id!r} (have {', '.join(pins)})")
        tree = fetch(pins[release_id], quiet=quiet)
        if print_path:
            click.echo(f"{release_id}\t{tree}")
        if print_sha256:
            click.echo(f"{release_id}\t{(tree / STAMP).read_text().strip()}")


COMMANDS = [builds_group, sources_command]
