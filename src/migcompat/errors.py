"""The one exception tree of migcompat.

Every error the library raises derives from :class:`MigcompatError`. Subclasses carry
structured fields so that the CLI (and library users) can report *where* the problem is:
a catalog file and path, a stream byte offset and section, a global's driver and property.
The CLI maps the classes to exit codes (see ``exit_code``); library code never exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit codes, DESIGN.md "Interfaces".
EXIT_OK = 0
EXIT_INCOMPATIBLE = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class MigcompatError(Exception):
    """Root of every error migcompat raises."""

    exit_code = EXIT_USAGE

    def __str__(self) -> str:  # pragma: no cover - subclasses format themselves
        return super().__str__()


class UsageError(MigcompatError):
    """Bad command-line input: an unknown release, machine, device or option value."""


class PropertyValueError(MigcompatError):
    """A string could not be parsed as a property value (QEMU's visitor wording)."""

    def __init__(self, message: str, prop: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.prop = prop

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


class EnvironmentProblem(MigcompatError):
    """The environment stops us: QEMU missing, cannot bind or connect."""

    exit_code = EXIT_ENVIRONMENT
