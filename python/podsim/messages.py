"""Messages: what endpoints send each other, as columns, with optional dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from podsim import _core
from podsim import _validate as v

#: Largest message the engine accepts, bytes.
MAX_MESSAGE_BYTES: int = _core.MAX_MESSAGE_BYTES
#: Message kinds and their codes in :attr:`Messages.kind`.
KINDS = {"write": 0, "read": 1}


def _kinds(kind: Any, n: int) -> np.ndarray:
    if isinstance(kind, str):
        if kind not in KINDS:
            raise ValueError(f"kind: must be one of {sorted(KINDS)}, got {kind!r}")
        return np.full(n, KINDS[kind], dtype=np.uint8)
    if kind is None:
        raise TypeError(f"kind: expected one of {sorted(KINDS)} or a sequence of them, got None")
    arr = np.asarray(kind)
    if arr.dtype.kind in "UO":
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"kind: expected {n} entries, got shape {arr.shape}")
        bad = [k for k in arr if k not in KINDS]
        if bad:
            raise ValueError(f"kind: must be one of {sorted(KINDS)}, got {bad[0]!r}")
        return np.array([KINDS[k] for k in arr], dtype=np.uint8)
    return v.int_array(arr, "kind", n, 0, 1, np.uint8)


def _deps(deps: Any, n: int) -> np.ndarray:
    if deps is None:
        return np.zeros((0, 2), dtype=np.uint32)
    arr = np.asarray(deps)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.uint32)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"deps: expected pairs (before, after) as an array of shape (k, 2), got shape {arr.shape}")
    flat = v.int_array(arr.reshape(-1), "deps", None, 0, max(n - 1, 0), np.uint32)
    if n == 0:
        raise ValueError("deps: given, but there are no messages")
    return flat.reshape(-1, 2)


class _Column:
    """A column of :class:`Messages`, checked when the batch is built and then fixed: neither
    replaced nor written in place (its array is read-only), so what was checked is what runs."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:  # on the class: the descriptor, as a property gives
            return self
        try:
            return cast(np.ndarray, obj.__dict__["_" + self.name])
        except KeyError:
            raise AttributeError(f"Messages.{self.name}: not set") from None

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"Messages.{self.name}: read-only (each column is checked when the batch is built); "
                             f"build a new Messages with the {self.name} you want")

    def __delete__(self, obj: Any) -> None:
        self.__set__(obj, None)


_COLUMNS = ("src", "dst", "size", "kind", "deps", "delay_ps", "tag")


class Messages:
    """A batch of messages as columns (no Python object per message).

    Args:
        src: endpoint node id where each message's data originates.
        dst: endpoint node id where the data lands.
        size: payload bytes, each in [1, 2**48].
        kind: ``"write"`` (data src->dst, then an acknowledgement back) or ``"read"`` (a request
            dst->src, then data src->dst); one string for all, or one per message.
        deps: pairs ``(before, after)`` of indices into this batch: ``after`` starts only once
            ``before`` is delivered (its last byte at its dst). Cycles are rejected.
        delay_ps: wait after the dependencies are met (or after injection) before starting, ps.
        tag: free integer per message, carried into the results (e.g. a collective step).

    The columns (``src``, ``dst``, ``size``, ``kind``, ``deps``, ``delay_ps``, ``tag``) are
    numpy arrays that cannot be replaced once built.
    """

    src = _Column()
    dst = _Column()
    size = _Column()
    kind = _Column()
    deps = _Column()
    delay_ps = _Column()
    tag = _Column()

    def __init__(
        self,
        src: Sequence[int] | np.ndarray,
        dst: Sequence[int] | np.ndarray,
        size: Sequence[int] | np.ndarray | int,
        *,
        kind: str | Sequence[str] | np.ndarray = "write",
        deps: Sequence[tuple[int, int]] | np.ndarray | None = None,
        delay_ps: Sequence[int] | np.ndarray | int = 0,
        tag: Sequence[int] | np.ndarray | int = 0,
    ) -> None:
        src_ids = v.int_array(src, "src", None, 0, 2**32 - 2, np.uint32)
        n = len(src_ids)
        self.__dict__.update(
            _src=src_ids,
            _dst=v.int_array(dst, "dst", n, 0, 2**32 - 2, np.uint32),
            _size=v.int_array(size, "size", n, 1, MAX_MESSAGE_BYTES, np.uint64),
            _kind=_kinds(kind, n),
            _deps=_deps(deps, n),
            _delay_ps=v.int_array(delay_ps, "delay_ps", n, 0, 1 << 62, np.uint64),
            _tag=v.int_array(tag, "tag", n, 0, v.U64_MAX, np.uint64),
        )
        same = np.flatnonzero(self.src == self.dst)
        if same.size:
            raise ValueError(f"dst: message {same[0]} has dst == src ({self.src[same[0]]})")
        for name in _COLUMNS:
            # Every column is a fresh array (int_array and the kind and deps parsers copy), so
            # freezing it leaves the caller's arrays writable.
            self.__dict__["_" + name].flags.writeable = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt through __init__, so an unpickled batch is checked and frozen like a new one.
        return (_rebuild, ({name: getattr(self, name) for name in _COLUMNS},))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickles written before the columns were fixed hold them under their plain names.
        columns = {name: state.get(name, state.get("_" + name)) for name in _COLUMNS}
        self.__init__(**columns)  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self.src)

    @property
    def total_bytes(self) -> int:
        """Sum of the payload sizes, bytes."""
        return v.exact_sum(self.size)

    @classmethod
    def concat(cls, parts: Sequence[Messages]) -> Messages:
        """One batch from several, in order; each part's dependencies are renumbered."""
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        return cls(
            np.concatenate([p.src for p in parts]) if parts else [],
            np.concatenate([p.dst for p in parts]) if parts else [],
            np.concatenate([p.size for p in parts]) if parts else [],
            kind=np.concatenate([p.kind for p in parts]) if parts else np.zeros(0, np.uint8),
            deps=np.concatenate([p.deps + np.uint32(o) for p, o in zip(parts, offsets)]) if parts else None,
            delay_ps=np.concatenate([p.delay_ps for p in parts]) if parts else [],
            tag=np.concatenate([p.tag for p in parts]) if parts else [],
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per message: src, dst, size, kind, delay_ps, tag."""
        inv = {code: k for k, code in KINDS.items()}
        return pd.DataFrame(
            {
                "src": self.src,
                "dst": self.dst,
                "size": self.size,
                "kind": [inv[k] for k in self.kind],
                "delay_ps": self.delay_ps,
                "tag": self.tag,
            }
        )

    def __repr__(self) -> str:
        return f"Messages({len(self)} messages, {self.total_bytes} bytes, {len(self.deps)} dependencies)"


def _rebuild(columns: dict[str, np.ndarray]) -> Messages:
    return Messages(**columns)
