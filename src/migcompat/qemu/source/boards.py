"""The unversioned machine types of the x86_64 build: isapc, microvm, none, x-remote, the
Xen boards (xenpv, xenfv-*), nitro-enclave. Whether the build has each is the build's
configuration, not the source's:

- the board must be registered in the tree (its file and registration are there);
- its Kconfig symbol must be on: ``default y`` and every ``depends on`` term true, where the
  host features a term names (FDT, XEN, LIBCBOR...) are those of Debian's main system build;
- the features of that build come from ``debian/rules`` (the first ``configure`` call, the
  main system build: ``--disable-xen``) and from the options ``debian/extract-config-opts``
  takes out of ``debian/control`` comments for linux-amd64 (``# --enable-fdt``); a feature
  neither names is meson's ``auto``: on for a library in Build-Depends, on for the
  Linux-only features (multiprocess, vhost-user), off otherwise.

A tree without ``debian/`` (an upstream tarball) has no build configuration: only boards that
need no host library are imported from it (isapc, none, x-remote), and the catalog's probe
of the real binary adds the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Kconfig symbols that are host features, and how each is decided: the configure option
# that sets it, and the -dev package meson's "auto" looks for (None: a Linux feature, on).
FEATURES: dict[str, tuple[str, str | None]] = {
    "FDT": ("fdt", "libfdt-dev"),
    "XEN": ("xen", "libxen-dev"),
    "LIBCBOR": ("libcbor", "libcbor-dev"),
    "GNUTLS": ("gnutls", "libgnutls28-dev"),
    "VHOST_USER": ("vhost-user", None),
    "MULTIPROCESS_ALLOWED": ("multiprocess", None),
    "KVM": ("kvm", None),
}
# Symbols the x86_64 target or its PC boards always have.
ALWAYS = frozenset({"I386", "X86_64", "PCI", "PCI_EXPRESS", "ISA_BUS", "LINUX"})


@dataclass(frozen=True)
class Board:
    name: str
    files: tuple[str, ...]  # the file that registers it (the first one present)
    marker: str  # its registration in that file
    kconfig: str | None  # its Kconfig symbol; None: always built
    feature: str | None = None  # a host feature it needs besides its Kconfig's


BOARDS = (
    Board("isapc", ("hw/i386/isapc.c", "hw/i386/pc_piix.c"), 'DEFINE_PC_MACHINE(isapc',
          "ISAPC"),
    Board("microvm", ("hw/i386/microvm.c",), "TYPE_MICROVM_MACHINE", "MICROVM"),
    Board("none", ("hw/core/null-machine.c",), '"none"', None),
    # multiprocess QEMU: MULTIPROCESS_ALLOWED (meson, Linux) implies MULTIPROCESS
    Board("x-remote", ("hw/remote/machine.c",), "TYPE_REMOTE_MACHINE", "MULTIPROCESS",
          "MULTIPROCESS_ALLOWED"),
    Board("xenpv", ("hw/xenpv/xen_machine_pv.c",), '"xenpv"', None, "XEN"),
    # Xen HVM guests' i440FX boards (pc_piix.c, #ifdef CONFIG_XEN)
    Board("xenfv-4.2", ("hw/i386/pc_piix.c",), '"xenfv-4.2"', None, "XEN"),
    Board("xenfv-3.1", ("hw/i386/pc_piix.c",), '"xenfv-3.1"', None, "XEN"),
    Board("nitro-enclave", ("hw/i386/nitro_enclave.c",), "TYPE_NITRO_ENCLAVE_MACHINE",
          "NITRO_ENCLAVE"),
)


def build_features(root: Path) -> dict[str, bool] | None:
    """The host features of Debian's main system build, or None without ``debian/``."""
    rules, control = root / "debian" / "rules", root / "debian" / "control"
    if not rules.is_file() or not control.is_file():
        return None
    options = _main_configure(rules.read_text(errors="replace"))
    options += _control_options(control.read_text(errors="replace"))
    depends = _build_depends(control.read_text(errors="replace"))
    out = {}
    for symbol, (option, package) in FEATURES.items():
        if f"--disable-{option}" in options:
            out[symbol] = False
        elif f"--enable-{option}" in options:
            out[symbol] = True
        else:  # meson's auto
            out[symbol] = package is None or package in depends
    return out


def _main_configure(rules: str) -> list[str]:
    """The options of the first ``configure`` call (Debian's main system build)."""
    lines = rules.splitlines()
    start = next((i for i, ln in enumerate(lines) if "/configure " in ln
                  or ln.rstrip().endswith("/configure")), None)
    if start is None:
        return []
    words: list[str] = []
    for ln in lines[start:]:
        words += ln.split()
        if "||" in ln or not ln.rstrip().endswith("\\"):
            break
    return [w for w in words if w.startswith("--")]


def _control_options(control: str) -> list[str]:
    """What extract-config-opts gives linux-amd64: ``# --opt [--opt2]<TAB>[arches]``."""
    out: list[str] = []
    for ln in control.splitlines():
        m = re.match(r"^# ?(--\S.*)$", ln)
        if m is None:
            continue
        opts, _, arches = m.group(1).partition("\t")
        wanted = arches.split()
        if not wanted or any(_matches(a) for a in wanted):
            out += opts.split()
    return out


def _matches(arch: str) -> bool:
    return any(alt in ("amd64", "linux-amd64", "linux-any", "any-amd64")
               for alt in arch.split("|"))


def _build_depends(control: str) -> set[str]:
    text = re.search(r"^Build-Depends:(.*?)(?=^\S)", control, re.M | re.S)
    if text is None:
        return set()
    return set(re.findall(r"([a-z0-9][a-z0-9+.-]+)", text.group(1)))


def _kconfig(root: Path) -> dict[str, tuple[bool, str]]:
    """Each ``config SYM`` of hw/ and Kconfig.host: (default y?, its depends-on text)."""
    out: dict[str, tuple[bool, str]] = {}
    files = [*sorted((root / "hw").rglob("Kconfig")), root / "Kconfig.host"]
    for path in files:
        if not path.is_file():
            continue
        symbol, default, depends = "", False, list[str]()
        for ln in [*path.read_text(errors="replace").splitlines(), "config"]:
            word = ln.strip().split()
            if word and word[0] in ("config", "menuconfig"):
                if symbol:
                    out[symbol] = (default, " && ".join(f"({d})" for d in depends))
                symbol = word[1] if len(word) > 1 else ""
                default, depends = False, []
            elif word[:2] == ["default", "y"]:
                default = True
            elif word[:2] == ["depends", "on"]:
                depends.append(" ".join(word[2:]).split("#")[0])
    return out


def _default_mak(root: Path) -> dict[str, bool]:
    """``CONFIG_SYM=y|n`` of the target's default.mak (x86_64 includes i386's): up to 7.2
    the boards are switched on there rather than by ``default y``."""
    out: dict[str, bool] = {}
    for target in ("i386-softmmu", "x86_64-softmmu"):
        # configs/devices/T/default.mak; up to 5.2, default-configs/devices/T.mak
        for path in (root / "configs" / "devices" / target / "default.mak",
                     root / "default-configs" / "devices" / f"{target}.mak"):
            if not path.is_file():
                continue
            for m in re.finditer(r"^CONFIG_([A-Z0-9_]+)=([yn])\s*$", path.read_text(), re.M):
                out[m.group(1)] = m.group(2) == "y"
    return out


def _holds(expr: str, features: dict[str, bool]) -> bool:
    """A depends-on expression (``&&``, ``||``, ``!``, parentheses) over host features; the
    target's own symbols are taken as on."""
    tokens = re.findall(r"&&|\|\||!|\(|\)|[A-Za-z0-9_]+", expr)
    pos = 0

    def value(symbol: str) -> bool:
        return features.get(symbol, symbol in ALWAYS or symbol not in FEATURES)

    def unary() -> bool:
        nonlocal pos
        tok = tokens[pos] if pos < len(tokens) else ""
        pos += 1
        if tok == "!":
            return not unary()
        if tok == "(":
            got = either()
            pos += 1  # the ")"
            return got
        return value(tok)

    def chain(operator: str, operand: Callable[[], bool]) -> bool:
        """``operand (operator operand)*``, every operand read (no short cut)."""
        nonlocal pos
        got = operand()
        while pos < len(tokens) and tokens[pos] == operator:
            pos += 1
            right = operand()
            got = (got and right) if operator == "&&" else (got or right)
        return got

    def both() -> bool:
        return chain("&&", unary)

    def either() -> bool:
        return chain("||", both)

    return either() if tokens else True


def read_boards(root: Path) -> dict[str, dict[str, Any]]:
    """The unversioned machine types the build has, as catalog machine entries."""
    features = build_features(root)
    kconfig = _kconfig(root)
    selected = _default_mak(root)
    out: dict[str, dict[str, Any]] = {}
    for board in BOARDS:
        path = next((f for f in board.files if (root / f).is_file()), None)
        if path is None:
            continue
        text = (root / path).read_text(errors="replace")
        at = text.find(board.marker)
        if at < 0:
            continue
        if features is None:  # no build configuration: only boards needing no library
            if board.name not in ("isapc", "none", "x-remote"):
                continue
            known: dict[str, bool] = {"MULTIPROCESS_ALLOWED": True, "KVM": True}
        else:
            known = features
        if board.feature is not None and not known.get(board.feature, False):
            continue
        if board.kconfig is not None:
            default, depends = kconfig.get(board.kconfig, (False, ""))
            on = selected.get(board.kconfig, default or board.feature is not None)
            if not on or not _holds(depends, known):
                continue
        out[board.name] = {"family": board.name, "version": "0", "compat": [],
                           "alias": None, "default": False, "deprecated": None,
                           "file": path, "line": text.count("\n", 0, at) + 1}
    return out
