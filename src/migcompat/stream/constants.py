"""Numbers of the migration stream format (reference §1.1, §1.3, §1.6, §3.1)."""

from __future__ import annotations

from enum import IntEnum, IntFlag

MAGIC = 0x5145564D  # "QEVM", QEMU_VM_FILE_MAGIC
FILE_VERSION = 3  # QEMU_VM_FILE_VERSION
FILE_VERSION_COMPAT = 2  # the obsolete v2 format, rejected with its own message
PAGE_SIZE = 4096  # x86 TARGET_PAGE_SIZE (the vmdesc "page_size")
RAM_SECTION = "ram"  # idstr of the RAM handler; its body is RAM records, not VMState
RAM_VERSION = 4  # the RAM handler's section version


class SectionType(IntEnum):
    """The top-level type bytes (QEMU_VM_*)."""

    EOF = 0x00
    START = 0x01
    PART = 0x02
    END = 0x03
    FULL = 0x04
    SUBSECTION = 0x05
    VMDESCRIPTION = 0x06
    CONFIGURATION = 0x07
    COMMAND = 0x08
    FOOTER = 0x7E


class RamFlag(IntFlag):
    """Low bits of a RAM record header (RAM_SAVE_FLAG_*); the high bits are the offset."""

    FULL = 0x01  # obsolete, never sent
    ZERO = 0x02
    MEM_SIZE = 0x04
    PAGE = 0x08
    EOS = 0x10
    CONTINUE = 0x20
    XBZRLE = 0x40
    HOOK = 0x80
    COMPRESS_PAGE = 0x100


class Cmd(IntEnum):
    """QEMU_VM_COMMAND numbers (MIG_CMD_*)."""

    INVALID = 0
    OPEN_RETURN_PATH = 1
    PING = 2
    POSTCOPY_ADVISE = 3
    POSTCOPY_LISTEN = 4
    POSTCOPY_RUN = 5
    POSTCOPY_RAM_DISCARD = 6
    PACKAGED = 7
    ENABLE_COLO = 8
    POSTCOPY_RESUME = 9
    RECV_BITMAP = 10
    # QEMU 9.2+ sends it on its own machine types, before the device state (the source
    # tells the destination switchover is starting; nothing to load).
    SWITCHOVER_START = 11


# Fixed payload lengths QEMU checks ("%s received with bad length - expecting %zu, got %d");
# -1 means variable. POSTCOPY_ADVISE takes 0 or 16 bytes.
CMD_LENGTHS: dict[Cmd, int] = {
    Cmd.OPEN_RETURN_PATH: 0,
    Cmd.PING: 4,
    Cmd.POSTCOPY_ADVISE: -1,
    Cmd.POSTCOPY_LISTEN: 0,
    Cmd.POSTCOPY_RUN: 0,
    Cmd.POSTCOPY_RAM_DISCARD: -1,
    Cmd.PACKAGED: 4,
    Cmd.ENABLE_COLO: 0,
    Cmd.POSTCOPY_RESUME: 0,
    Cmd.RECV_BITMAP: -1,
    Cmd.SWITCHOVER_START: 0,
}

XBZRLE_ENCODING = 0x01  # ENCODING_FLAG_XBZRLE
COMPRESS_BOUND = PAGE_SIZE + (PAGE_SIZE >> 12) + (PAGE_SIZE >> 14) + (PAGE_SIZE >> 25) + 13
