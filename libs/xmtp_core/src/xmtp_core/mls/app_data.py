"""Application data in the group context (draft-ietf-mls-extensions "safe application" API): the
AppDataDictionary extension (0x0006) codec and the hook type through which an application turns
AppDataUpdate proposals into the next epoch's GroupContext extensions. MLS itself gives updates no meaning."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import ValidationError
from xmtp_core.mls.extensions import Extension
from xmtp_core.mls.proposals import Proposal

EXT_APP_DATA_DICTIONARY = 0x0006

# (current GroupContext extensions, AppDataUpdate proposals in commit order) -> new extensions.
AppDataUpdater = Callable[[tuple[Extension, ...], Sequence[Proposal]], tuple[Extension, ...]]


@dataclass(frozen=True)
class AppDataDictionary(WireStruct):
    """ComponentData entries {uint16 component_id; opaque data<V>} sorted by id, ids unique."""

    entries: tuple[tuple[int, bytes], ...] = ()

    def encode(self, w: Writer) -> None:
        w.vec_items(self.entries, lambda ww, e: ww.u16(e[0]).vec(e[1]))

    @classmethod
    def decode(cls, r: Reader) -> Self:
        entries = tuple(r.vec_items(lambda rr: (rr.u16(), rr.vec())))
        ids = [cid for cid, _ in entries]
        if ids != sorted(set(ids)):
            raise ValidationError("AppDataDictionary component ids must be unique and in ascending order")
        return cls(entries)

    def get(self, component_id: int) -> bytes | None:
        """The value stored under component ``component_id``, or None."""
        return dict(self.entries).get(component_id)

    def with_component(self, component_id: int, data: bytes | None) -> AppDataDictionary:
        """A copy with ``component_id`` set to ``data`` (removed when ``data`` is None)."""
        entries = dict(self.entries)
        if data is None:
            entries.pop(component_id, None)
        else:
            entries[component_id] = data
        return AppDataDictionary(tuple(sorted(entries.items())))

    def to_extension(self) -> Extension:
        """This dictionary as a GroupContext extension."""
        return Extension(EXT_APP_DATA_DICTIONARY, self.to_bytes())
