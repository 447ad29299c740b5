"""Loading a stream into a destination VM, all or nothing (pure: bytes in, a VM out).

The destination decodes with its **own** release's schemas, as QEMU does, so whether a
migration works comes out of the same rules as in QEMU. Nothing is applied to the VM until
the whole stream has loaded and the digest the source computed matches what arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from migcompat.errors import StreamError, TruncatedStream
from migcompat.model.ram import GuestRAM, RamBlock
from migcompat.stream import LoadedState, Loader
from migcompat.vm.devstate import seeded_state
from migcompat.vm.digest import LoadDigest, StateDigest
from migcompat.vm.live import LiveVM
from migcompat.vmstate.encode import encode_state

RESET_SEED = -1  # the state of a device that received nothing (QEMU: its reset state)


@dataclass
class LoadResult:
    live: LiveVM
    digest: str
    source_digest: str | None
    bytes_read: int
    warnings: list[str] = field(default_factory=list)
    migration: str = ""  # the handover's id, from the description


class IncomingLoad:
    """Feed the stream's bytes; ``done`` says when it has ended; ``finish`` gives the VM."""

    def __init__(self, target: LiveVM) -> None:
        self.target = target
        destination = target.destination()
        # RAM is hashed as it arrives, so little is left to do once the stream ends.
        self.ram_digest = LoadDigest(target.ram.layout(), destination.page_size)
        self.loader = Loader(destination, ram="sparse", observer=self.ram_digest)

    @property
    def done(self) -> bool:
        return self.loader.done

    def feed(self, data: bytes) -> None:
        self.loader.feed(data)

    def finish(self) -> LoadResult:
        loaded = self.loader.close()
        return apply(self.target, loaded, self.ram_digest.ram_digest())


def _ours(loaded: LoadedState) -> tuple[str, str]:
    """The digest and the migration id the source put in the description. A stream
    without them is not accepted: it was cut before or inside its description (a cut
    there is the one a load alone would not see), or not made by a migcompat source."""
    doc = None
    if loaded.vmdesc is not None:
        try:
            doc = loaded.vmdesc.parsed
        except StreamError:
            doc = None
    info = doc.get("migcompat") if isinstance(doc, dict) else None
    digest = info.get("digest") if isinstance(info, dict) else None
    if not isinstance(digest, str):
        raise TruncatedStream("the stream ends without a migcompat description (no digest): "
                              "it was cut short, or not made by migcompat migrate",
                              offset=loaded.bytes_read)
    migration = info.get("migration") if isinstance(info, dict) else ""
    return digest, migration if isinstance(migration, str) else ""


def apply(target: LiveVM, loaded: LoadedState, ram_digest: StateDigest | None = None
          ) -> LoadResult:
    """Check the digest, then build the loaded VM; ``target`` itself is never modified.

    ``ram_digest``: the digest with all of the loaded RAM in it, when it was computed while
    loading (see :class:`LoadDigest`); otherwise the loaded pages are hashed here."""
    warnings = list(loaded.warnings)
    # The received pages stay where they arrived (sparse mode): no copy into a buffer.
    # The loader keeps no all-zero page there.
    blocks = [RamBlock(idstr, size, sparse=loaded.ram_pages.get(idstr, {}), nonzero=True)
              for idstr, size in target.ram.layout()]
    d = ram_digest
    if d is None:
        d = StateDigest()
        for b in blocks:
            d.ram_block(b)
    d.sections((idstr, inst, encode_state(data))
               for (idstr, inst), data in loaded.sections.items())
    digest = d.hexdigest()
    source, migration = _ours(loaded)
    if source != digest:
        raise StreamError(f"state digest mismatch: the source sent {source}, "
                          f"the destination holds {digest}", offset=loaded.bytes_read)
    live = LiveVM(target.vm, GuestRAM(blocks), [])
    for s in target.sections:
        state = loaded.sections.get((s.idstr, s.instance_id))
        if state is None:
            state = seeded_state(s.vmsd, s.properties, RESET_SEED, s.idstr)
        live.sections.append(replace(s, state=state))
    return LoadResult(live, digest, source, loaded.bytes_read, warnings, migration)
