"""What the x86_64 Linux system emulator is built from: the directories of a QEMU tree
whose sources it compiles, and the values of the macros QEMU's headers take from the C
library and GLib (which the importer never reads).
"""

from __future__ import annotations

# Directories whose sources make up the x86_64 system emulator. target/ is limited to
# i386 (DESIGN.md: x86_64 only); tests, firmware and tooling are never read.
SOURCE_DIRS = (
    "include",
    "hw",
    "target/i386",
    "qom",
    "backends",
    "net",
    "block",
    "chardev",
    "migration",
    "accel",
    "ui",
    "audio",
    "system",
    "softmmu",
    "crypto",
    "io",
    "authz",
    "iothread.c",
    "event-loop-base.c",
    "block.c",
    "blockdev.c",
    "job.c",
    "dump",
    "replay",
    "scsi",
    "fsdev",
    "gdbstub",
    "monitor",
    "util",
    "ebpf",
    "cpu.c",
    "target-info-qom.c",
)
SKIP_DIRS = {".pc", "tests", "roms", "subprojects", "debian", "linux-user", "bsd-user"}

# Values of standard-library and GLib macros that QEMU's headers take from the system.
BUILTIN_MACROS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "UINT8_MAX": (None, "255"),
    "UINT16_MAX": (None, "65535"),
    "UINT32_MAX": (None, "4294967295U"),
    "UINT64_MAX": (None, "18446744073709551615ULL"),
    "INT8_MAX": (None, "127"),
    "INT16_MAX": (None, "32767"),
    "INT32_MAX": (None, "2147483647"),
    "INT64_MAX": (None, "9223372036854775807LL"),
    "INT8_MIN": (None, "(-128)"),
    "INT16_MIN": (None, "(-32768)"),
    "INT32_MIN": (None, "(-2147483647-1)"),
    "INT64_MIN": (None, "(-9223372036854775807LL-1)"),
    "SIZE_MAX": (None, "18446744073709551615ULL"),
    "INT_MAX": (None, "2147483647"),
    "UINT_MAX": (None, "4294967295U"),
    "LONG_MAX": (None, "9223372036854775807L"),
    "G_MAXUINT8": (None, "255"),
    "G_MAXUINT16": (None, "65535"),
    "G_MAXUINT32": (None, "4294967295U"),
    "G_MAXUINT64": (None, "18446744073709551615ULL"),
    "G_MAXINT32": (None, "2147483647"),
    "G_MAXINT64": (None, "9223372036854775807LL"),
    "G_MAXUINT": (None, "4294967295U"),
    "G_MAXINT": (None, "2147483647"),
    "G_MAXSIZE": (None, "18446744073709551615ULL"),
    "NULL": (None, "0"),
    "INT64_C": (("x",), "x ## LL"),
    "UINT64_C": (("x",), "x ## ULL"),
    "INT32_C": (("x",), "x"),
    "UINT32_C": (("x",), "x ## U"),
    "INT16_C": (("x",), "x"),
    "UINT16_C": (("x",), "x"),
    "INT8_C": (("x",), "x"),
    "UINT8_C": (("x",), "x"),
    "TRUE": (None, "1"),
    "FALSE": (None, "0"),
}
