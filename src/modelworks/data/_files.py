"""Reading tabular files (local or fsspec URLs) into DataFrames: formats by extension,
compression, sniffed delimiters, folders of same-column files. Used by :mod:`.readers`
and :mod:`._mltable`."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import posixpath
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from modelworks.errors import (
    InvalidInputError,
)

if TYPE_CHECKING:
    import pandas as pd
    from fsspec import AbstractFileSystem

MLTABLE_FILE = "MLTable"
MLTABLE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/MLTable.schema.json"
DATA_TYPES = ("uri_file", "uri_folder", "mltable")

_FORMATS: dict[str, str] = {
    ".csv": "delimited",
    ".tsv": "delimited",
    ".txt": "delimited",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".feather": "feather",
}
Compression = Literal["gzip", "bz2", "xz", "zip"] | None
_COMPRESSIONS: dict[str, Compression] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_COMPRESSIBLE = {"delimited", "json", "jsonl"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_FORMATS)
_DELIMITER_CANDIDATES = (",", "\t", ";", "|")
_SNIFF_BYTES = 64 * 1024
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


def _supported_text() -> str:
    return (
        ", ".join(SUPPORTED_EXTENSIONS)
        + "; delimited and JSON files may also be compressed (.gz, .bz2, .xz, .zip), e.g. .csv.gz"
    )


def table_format(name: str) -> tuple[str, Compression] | None:
    """The (format, compression) of a file from its name, or None if it is not tabular.

    Formats: ``delimited``, ``parquet``, ``json``, ``jsonl``, ``feather``.
    """
    base = posixpath.basename(name.replace("\\", "/")).lower()
    compression = _COMPRESSIONS.get(posixpath.splitext(base)[1])
    fmt = _FORMATS.get(_stem_ext(base))
    if fmt is None or (compression is not None and fmt not in _COMPRESSIBLE):
        return None
    return fmt, compression


# ------------------------------------------------------------------------------ file reading


def _filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    import fsspec

    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidInputError(f"Data path must be a non-empty string, got {path!r}.")
    fs, root = fsspec.core.url_to_fs(os.fspath(path))
    return fs, root.rstrip("/") or root


def _is_local(fs: AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _display(fs: AbstractFileSystem, path: str, original: str, root: str) -> str:
    """A user-facing name for ``path``: relative to what the user gave where possible."""
    if path == root:
        return original
    if path.startswith(root + "/"):
        return posixpath.join(original.rstrip("/"), path[len(root) + 1 :])
    return path if _is_local(fs) else fs.unstrip_protocol(path)


@contextlib.contextmanager
def _source(fs: AbstractFileSystem, path: str) -> Iterator[Any]:
    """What pandas should read: the local path itself, or an open remote file."""
    if _is_local(fs):
        yield path
    else:
        with fs.open(path, "rb") as fh:
            yield fh


def _read_file(
    fs: AbstractFileSystem, path: str, options: dict[str, Any], *, display: str
) -> pd.DataFrame:
    found = table_format(path)
    if found is None:
        raise InvalidInputError(
            f"Cannot read {display!r} as a table: unsupported file extension. Supported: "
            f"{_supported_text()}."
        )
    fmt, compression = found
    if fmt == "delimited":
        return _read_delimited(fs, path, compression, options, display=display)
    return _read_other(fs, path, fmt, compression, options, display=display)


def _sniff_delimiter(fs: AbstractFileSystem, path: str, compression: Compression) -> str | None:
    """Guess the delimiter from the first lines: the candidate giving a constant field count > 1."""
    try:
        with fs.open(path, "rb", compression=compression) as fh:
            raw = fh.read(_SNIFF_BYTES)
    except (OSError, EOFError, ValueError):
        return None
    truncated = len(raw) >= _SNIFF_BYTES
    text = raw.decode("utf-8", errors="replace")
    best: tuple[int, str] | None = None
    fallback: tuple[int, str] | None = None
    for delimiter in _DELIMITER_CANDIDATES:
        try:
            rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        if not rows:
            continue
        counts = {len(r) for r in rows}
        width = len(rows[0])
        if len(counts) == 1 and width > 1 and (best is None or width > best[0]):
            best = (width, delimiter)
        if width > 1 and (fallback is None or width > fallback[0]):
            fallback = (width, delimiter)
    chosen = best or fallback
    return chosen[1] if chosen else None


def _read_delimited(
    fs: AbstractFileSystem,
    path: str,
    compression: Compression,
    options: dict[str, Any],
    *,
    display: str,
) -> pd.DataFrame:
    import pandas as pd

    kwargs = dict(options)
    if "delimiter" in kwargs and "sep" in kwargs:
        raise InvalidInputError("Give either delimiter= or sep=, not both.")
    delimiter = kwargs.pop("delimiter", kwargs.pop("sep", None))
    if delimiter is None:
        delimiter = _sniff_delimiter(fs, path, compression)
        if delimiter is None:
            delimiter = "\t" if _stem_ext(path) == ".tsv" else ","
    try:
        with _source(fs, path) as src:
            return _as_frame(
                pd.read_csv(src, sep=delimiter, compression=compression, **kwargs), display
            )
    except TypeError as e:
        raise InvalidInputError(f"Bad reading option for {display!r}: {e}.") from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InvalidInputError(
            f"Could not read {display!r} as delimited text (delimiter {delimiter!r}): {e}. "
            "Check the file, or pass delimiter=/encoding= explicitly."
        ) from e
    except (OSError, EOFError) as e:
        raise InvalidInputError(f"Could not read {display!r}: {e}.") from e


def _read_other(
    fs: AbstractFileSystem,
    path: str,
    fmt: str,
    compression: Compression,
    options: dict[str, Any],
    *,
    display: str,
) -> pd.DataFrame:
    import pandas as pd

    try:
        with _source(fs, path) as src:
            if fmt == "parquet":
                result: object = pd.read_parquet(src, **options)
            elif fmt == "feather":
                result = pd.read_feather(src, **options)
            elif fmt == "jsonl":
                result = pd.read_json(src, lines=True, compression=compression, **options)
            else:
                result = _read_json(fs, path, src, compression, options)
            return _as_frame(result, display)
    except TypeError as e:
        raise InvalidInputError(f"Bad reading option for {display!r}: {e}.") from e
    except (ValueError, OSError, EOFError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise InvalidInputError(
            f"Could not read {display!r} as {fmt}: {e}. Check that the file is valid {fmt}."
        ) from e


def _read_json(
    fs: AbstractFileSystem,
    path: str,
    src: Any,
    compression: Compression,
    options: dict[str, Any],
) -> object:
    """A .json file: an array of records, JSON lines, or a pandas-style column mapping."""
    import pandas as pd

    with fs.open(path, "rb", compression=compression) as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"{"):
        try:
            if not _is_local(fs):
                src.seek(0)
            return pd.read_json(src, lines=True, compression=compression, **options)
        except ValueError:
            if not _is_local(fs):
                src.seek(0)
    return pd.read_json(src, compression=compression, **options)


def _as_frame(result: object, display: str) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(result, pd.DataFrame):
        raise InvalidInputError(
            f"Reading {display!r} did not give a table (got {result.__class__.__name__}); "
            "do not pass options such as chunksize=, iterator= or typ='series'."
        )
    return result


def _tabular_files(fs: AbstractFileSystem, root: str, formats: set[str] | None) -> list[str]:
    """Files under ``root`` (recursive, sorted) of the given formats; hidden/underscore skipped."""
    found = []
    for p in sorted(fs.find(root)):
        rel = p[len(root) :].lstrip("/")
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue
        fmt = table_format(p)
        if fmt is not None and (formats is None or fmt[0] in formats):
            found.append(p)
    return found


def _read_folder(
    fs: AbstractFileSystem, root: str, options: dict[str, Any], *, display: str
) -> pd.DataFrame:
    files = _tabular_files(fs, root, None)
    if not files:
        raise InvalidInputError(
            f"Folder {display!r} holds no tabular file. Supported: {_supported_text()} "
            "(files starting with '.' or '_' are skipped)."
        )
    frames = [
        (name, _read_file(fs, p, options, display=name))
        for p in files
        for name in [_display(fs, p, display, root)]
    ]
    return _concat_same_columns(frames, where=f"folder {display!r}")


def _concat_same_columns(frames: list[tuple[str, pd.DataFrame]], *, where: str) -> pd.DataFrame:
    """Concatenate frames that must have the same columns; name the files that differ."""
    import pandas as pd

    first_name, first = frames[0]
    expected = set(map(str, first.columns))
    problems = []
    for name, frame in frames[1:]:
        got = set(map(str, frame.columns))
        if got != expected:
            missing, extra = sorted(expected - got), sorted(got - expected)
            detail = "; ".join(
                part
                for part in (
                    f"missing {missing}" if missing else "",
                    f"extra {extra}" if extra else "",
                )
                if part
            )
            problems.append(f"{name} ({detail})")
    if problems:
        shown = ", ".join(problems[:5]) + (
            f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise InvalidInputError(
            f"Files in {where} have different columns: compared with {first_name} "
            f"({sorted(expected)}), {shown}. Put files of one table in a folder, or use an "
            "MLTable with header: all_files_different_headers."
        )
    if len(frames) == 1:
        return first
    return pd.concat([f for _, f in frames], ignore_index=True)


def _stem_ext(name: str) -> str:
    """The extension of a file name under any compression suffix: 'a.tsv.gz' -> '.tsv'."""
    stem, ext = posixpath.splitext(name.lower())
    return posixpath.splitext(stem)[1] if ext in _COMPRESSIONS else ext
