"""Batches of ids as one Arrow string array, read through its raw offsets and UTF-8 bytes."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pyarrow as pa

from champion.errors import InvalidArgument

__all__ = ["as_string_array", "string_buffers"]

_RULE = (
    "must be a list of str, a numpy array of str/object, or a pyarrow string array; "
    "convert numeric ids with str() so Python and SQL hash the same text"
)


def as_string_array(ids: object) -> pa.StringArray | pa.LargeStringArray:
    """One contiguous Arrow string array without nulls (a chunked array is combined)."""
    if isinstance(ids, str | bytes):
        raise InvalidArgument("ids", ids, f"got a single value; {_RULE}")
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    arr: pa.Array[Any]
    if isinstance(ids, pa.Array):
        arr = ids
    else:
        try:  # any object goes in: pyarrow raises for what it cannot convert (caught below)
            arr = pa.array(cast(Any, ids), type=pa.string())
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise InvalidArgument("ids", _preview(ids), f"{_RULE} ({e})") from e
    if pa.types.is_dictionary(arr.type):  # e.g. a categorical column
        arr = cast("pa.DictionaryArray[Any, Any]", arr).dictionary_decode()
    if getattr(pa.types, "is_string_view", lambda _: False)(arr.type):
        arr = arr.cast(pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise InvalidArgument("ids", f"<{arr.type} array>", _RULE)
    if arr.null_count:
        where = np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[:5].tolist()
        raise InvalidArgument(
            "ids",
            f"<{arr.null_count} nulls, first at positions {where}>",
            "every unit needs an id: drop or fill the missing ones first",
        )
    return cast("pa.StringArray | pa.LargeStringArray", arr)  # narrowed by the checks above


def string_buffers(arr: pa.StringArray | pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data): id i is ``data[offsets[i]:offsets[i + 1]]`` (slices of Arrow buffers)."""
    _, offsets_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    if offsets_buf is None:  # an empty array may come without buffers
        return np.zeros(len(arr) + 1, dtype=width), np.zeros(1, dtype=np.uint8)
    # numpy's stubs take only builtin buffers before Python 3.12 (collections.abc.Buffer), so a
    # pa.Buffer's __buffer__ is not seen there; the ignores below are for that alone.
    offsets = np.frombuffer(offsets_buf, dtype=width)  # type: ignore[call-overload]
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    if data_buf is None or data_buf.size == 0:
        return offsets, np.zeros(1, dtype=np.uint8)
    return offsets, np.frombuffer(data_buf, dtype=np.uint8)  # type: ignore[call-overload]


def _preview(ids: object) -> str:
    try:
        return f"<{type(ids).__name__} of {len(ids)}>"  # type: ignore[arg-type]
    except TypeError:
        return f"<{type(ids).__name__}>"
