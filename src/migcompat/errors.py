"""The one exception tree of migcompat: every class it raises is defined here.

Each class carries structured fields, so that the CLI (and library users) can tell *where*
the problem is and *what kind* it is without reading the message: a catalog file and path,
a stream byte offset, section and field, a global's driver and property, the QMP command
that failed. The CLI maps each class to an exit code (``exit_code``, DESIGN's table: 1 a
migration that does not load, 2 bad usage or input, 3 the environment); library code
never exits. No caller matches message text: where callers must tell cases apart, there
is a class for each case::

    MigcompatError                 exit 2 (bad usage or input) unless a class says otherwise
    ├── UsageError                 bad command-line input: an unknown release, option value
    │   └── MachineError           an unknown machine type (release, machine)
    ├── CatalogError               a catalog that does not load: every CatalogProblem in it
    ├── PropertyValueError         a string a property kind refuses, in QEMU's words (prop)
    ├── GlobalPropertyError        a global that cannot be applied (driver, prop, value)
    ├── DeviceError                a device that cannot be created or realized
    ├── SchemaError                a VMState schema or check Reason built inconsistently (a bug)
    ├── RuleError                  a rule that reads a property or field nobody set
    ├── SchemaFileError            a --schema/--against file that describes no layout
    │   └── DumpFormatError        a -dump-vmstate file of the wrong shape
    ├── StateError                 a schema that cannot be filled for a device
    ├── EncodeError                a value that does not fit the schema it is encoded with
    ├── ProtocolError              an event where the stream grammar forbids it (a bug)
    ├── StreamError                exit 1: a stream that does not load (offset, section, field)
    │   ├── TruncatedStream        the input ends inside the stream
    │   ├── UnknownCommand         a MIG_CMD this decoder does not know (cmd, length)
    │   ├── StreamReadError        a stream a real QEMU saved that cannot be walked (probe)
    │   ├── InputChanged           exit 2: the stream file changed while it was read
    │   └── UnreadableStream       exit 2: the input file itself is unreadable (cause)
    ├── EnvironmentProblem         exit 3: what this machine lacks or refuses
    │   └── TransportError         the bytes could not move (uri)
    │       ├── CannotListen       bind or listen failed
    │       ├── CannotConnect      no peer: connect failed after retries, or nobody came
    │       ├── CannotWrite        a file: URI's target cannot be written
    │       └── ConnectionLost     exit 1: the peer went away in the middle of the stream
    └── ImporterError              exit 3: real QEMU could not be had, run or read (qemu/)
        ├── SourceImportError      exit 2: a source-tree construct the importer cannot read
        │   ├── MacroExpansionError   a macro invocation that cannot be expanded
        │   └── CompatEntryError      a compat entry that is not constant strings (file, line)
        ├── FetchError             a pinned Debian package could not be had
        │   ├── PackageGone        its version left the archive's index (package, version)
        │   └── PackageFileGone    it is listed, but its file answers HTTP 404
        ├── BuildUnavailable       a pinned build is not fetched, or not the system's QEMU
        └── QemuError              QEMU would not start, died, or QMP broke (stderr)
            ├── QemuNotFound       the binary is not installed or not executable
            └── QmpCommandError    a QMP command failed (command, arguments, error_class)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Exit codes, DESIGN.md "Interfaces".
EXIT_OK = 0
EXIT_INCOMPATIBLE = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_UNKNOWN = 4  # a migration whose outcome is unknown: `migcompat settle` resolves it


class MigcompatError(Exception):
    """Root of every error migcompat raises."""

    exit_code = EXIT_USAGE


# -- input and the model ----------------------------------------------------------------

class UsageError(MigcompatError):
    """Bad command-line input: an unknown release, machine, device or option value."""


class MachineError(UsageError):
    """An unknown machine type for a release."""

    def __init__(self, message: str, release: str = "", machine: str = "") -> None:
        super().__init__(message)
        self.release = release
        self.machine = machine


@dataclass(frozen=True)
class CatalogProblem:
    """One problem in a catalog file, in the style of pydantic/cattrs error reports."""

    file: str
    path: str
    code: str
    message: str
    value: object = None
    hint: str = ""

    def format(self) -> str:
        text = f"{self.file}: {self.path}: {self.message} [{self.code}]"
        if self.hint:
            text += f" ({self.hint})"
        return text


@dataclass
class CatalogError(MigcompatError):
    """A catalog could not be loaded. Lists every problem found, not just the first."""

    problems: list[CatalogProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    def summary(self) -> str:
        if not self.problems:
            return "invalid catalog"
        files = sorted({p.file for p in self.problems})
        return f"{len(self.problems)} problem(s) in {', '.join(files)}"

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems) or "invalid catalog"


class PropertyValueError(MigcompatError):
    """A string could not be parsed as a property value (QEMU's visitor wording).

    ``name_at``: where the property's name starts in the message, for the errors in which
    QEMU names the object's type before it (``Property virtio-blk-pci.x doesn't take
    value ...``); a caller that knows the type gets that wording from :meth:`with_type`.
    """

    def __init__(self, message: str, prop: str = "", name_at: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.prop = prop
        self.name_at = name_at

    def with_type(self, type_name: str) -> str:
        if self.name_at is None:
            return self.message
        at = self.name_at
        return f"{self.message[:at]}{type_name}.{self.message[at:]}"

    def __str__(self) -> str:
        return self.message


class GlobalPropertyError(MigcompatError):
    """A global property (compat, sugar or user) could not be applied to an object."""

    def __init__(self, driver: str, prop: str, value: str, reason: str, source: str = "") -> None:
        super().__init__(reason)
        self.driver = driver
        self.prop = prop
        self.value = value
        self.reason = reason
        self.source = source

    def __str__(self) -> str:
        return f"can't apply global {self.driver}.{self.prop}={self.value}: {self.reason}"


class DeviceError(MigcompatError):
    """A device could not be created or realized (unknown type, bad option, realize check)."""


# -- VMState and device state -----------------------------------------------------------

class SchemaError(MigcompatError):
    """A schema object was built with inconsistent parts (a programming error in the caller):
    a VMState description, or a ``check`` Reason whose code the registry does not have or
    whose category its code may not take (analysis/reasons.py)."""


class RuleError(MigcompatError):
    """A rule could not be evaluated: a property or field it reads is not known."""


class SchemaFileError(MigcompatError):
    """A --schema / --against file is not a vmdesc, a -dump-vmstate or a stream."""


class DumpFormatError(SchemaFileError):
    """A ``-dump-vmstate`` file does not have the expected shape."""


class StateError(MigcompatError):
    """A schema cannot be filled for this device (a count property it reads is missing)."""


class EncodeError(MigcompatError):
    """A value does not fit the schema it is encoded with."""


# -- streams ----------------------------------------------------------------------------

class ProtocolError(MigcompatError):
    """An event was sent where the stream grammar does not allow it (the caller's fault)."""


class StreamError(MigcompatError):
    """A migration stream could not be read or did not load.

    ``offset`` is the byte offset in the stream where the problem was found; ``section``
    and ``field`` name the section idstr and the VMState field when known.
    """

    exit_code = EXIT_INCOMPATIBLE

    def __init__(
        self,
        message: str,
        offset: int | None = None,
        section: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.section = section
        self.field = field

    def __str__(self) -> str:
        where = []
        if self.offset is not None:
            where.append(f"at byte {self.offset}")
        if self.section:
            where.append(f"section '{self.section}'")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{self.message} ({', '.join(where)})" if where else self.message


class TruncatedStream(StreamError):
    """The input ends inside the stream (``offset`` is where it ends)."""


class UnknownCommand(StreamError):
    """A QEMU_VM_COMMAND this decoder does not know; ``offset`` is the command's id byte."""

    def __init__(self, message: str, offset: int, cmd: int, length: int) -> None:
        super().__init__(message, offset)
        self.cmd = cmd
        self.length = length


class StreamReadError(StreamError):
    """A stream a real QEMU saved (for the state capture) could not be walked to its end."""


class InputChanged(StreamError):
    """The stream file shrank, or another process opened it for writing or truncated it,
    while it was read (``offset`` is where reading stopped): bad input, exit 2."""

    exit_code = EXIT_USAGE


class UnreadableStream(StreamError):
    """The input stream cannot be read at all: exit 2 (bad input), not 1. ``cause`` is the
    error that said so."""

    exit_code = EXIT_USAGE

    def __init__(self, cause: StreamError) -> None:
        super().__init__(cause.message, cause.offset, cause.section, cause.field)
        self.cause = cause


# -- the environment and the bytes' way -------------------------------------------------

class EnvironmentProblem(MigcompatError):
    """The environment stops us: QEMU missing, cannot bind or connect."""

    exit_code = EXIT_ENVIRONMENT


class TransportError(EnvironmentProblem):
    """Migration bytes could not move; ``uri`` is the address or path concerned."""

    def __init__(self, message: str, uri: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.uri = uri

    def __str__(self) -> str:
        return self.message


class CannotListen(TransportError):
    """The destination's address cannot be bound or listened on."""


class CannotConnect(TransportError):
    """No peer: the connection failed after the retries, or no source came in time."""


class CannotWrite(TransportError):
    """A ``file:`` URI's target cannot be created or written."""


class ConnectionLost(TransportError):
    """The peer went away in the middle of the stream: the migration failed (exit 1)."""

    exit_code = EXIT_INCOMPATIBLE


# -- reading real QEMU (qemu/) ----------------------------------------------------------

class ImporterError(MigcompatError):
    """Real QEMU (a source package, a binary build, a running QEMU) could not be had, run
    or read."""

    exit_code = EXIT_ENVIRONMENT


class SourceImportError(ImporterError):
    """A construct of a QEMU source tree the importer cannot read (the tree is the input)."""

    exit_code = EXIT_USAGE


class MacroExpansionError(SourceImportError):
    """A macro invocation that cannot be expanded (unbalanced parentheses...)."""


class CompatEntryError(SourceImportError):
    """A compat entry whose driver, property or value is not a constant string."""

    def __init__(self, message: str, file: str = "", line: int = 0) -> None:
        super().__init__(f"{file}:{line}: {message}" if file else message)
        self.file = file
        self.line = line


class FetchError(ImporterError):
    """A pinned Debian package could not be had (gone from the archive, no network...)."""


class PackageGone(FetchError):
    """The pinned version is no longer in the archive's index."""

    def __init__(self, message: str, package: str = "", version: str = "") -> None:
        super().__init__(message)
        self.package = package
        self.version = version


class PackageFileGone(FetchError):
    """The pinned package is still listed, but its file answers HTTP 404."""


class BuildUnavailable(ImporterError):
    """A build is not fetched (or the system QEMU is not the pinned release)."""


class QemuError(ImporterError):
    """QEMU could not be started, died, or the QMP session broke."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stderr = stderr

    def __str__(self) -> str:
        tail = self.stderr.strip()
        return f"{self.message}\n{tail}" if tail else self.message


class QemuNotFound(QemuError):
    """The QEMU binary is not installed or not executable."""


class QmpCommandError(QemuError):
    """A QMP command returned an error; keeps the command, its arguments and QEMU's reply."""

    def __init__(self, command: str, arguments: dict[str, Any], error_class: str,
                 desc: str) -> None:
        super().__init__(f"QMP {command} failed: {error_class}: {desc}")
        self.command = command
        self.arguments = arguments
        self.error_class = error_class
        self.desc = desc
