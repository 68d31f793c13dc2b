"""The search's results file: JSON Lines, one record per finished trial, appended as trials finish.

Each line is written with one write() and then fsync'ed, so a crash or a kill can leave at most one incomplete
last line; reading drops it (and appending first cuts it off), while a damaged line anywhere else is an error.
A trial listed twice (a failed trial rerun with retry_failed) counts with its last record.
"""
from __future__ import annotations

import json
import os

import numpy as np


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"trial results must be JSON-serialisable; got {type(o).__name__}")


def encode(record) -> bytes:
    return (json.dumps(record, separators=(",", ":"), default=_json_default) + "\n").encode()


def _parse(path):
    """(records by trial, byte length of the complete lines, bytes of an incomplete last line dropped)."""
    with open(path, "rb") as f:
        raw = f.read()
    end = raw.rfind(b"\n") + 1  # everything after the last newline is an unfinished write
    records = {}
    for lineno, line in enumerate(raw[:end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            trial = int(rec["trial"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: line {lineno} is not a trial record ({e}); only the last line may be "
                             f"incomplete") from None
        records[trial] = rec
    return records, end, len(raw) - end


def read_results(path):
    """(records in trial order, bytes of an incomplete last line that will be dropped) of a results file."""
    records, _, dropped = _parse(path)
    return [records[i] for i in sorted(records)], dropped


def load_results(path):
    """The records of a results file, in trial order (an incomplete last line from a crash is ignored)."""
    return read_results(path)[0]


def _differences(a, b):
    keys = sorted(set(a) | set(b))
    return "; ".join(f"{k}: {a.get(k)!r} in the file, {b.get(k)!r} now" for k in keys if a.get(k) != b.get(k))


def check_search(path, records, search):
    """ValueError unless every record of the file `path` belongs to `search` (tune.fingerprint)."""
    for rec in records:
        if rec.get("search") != search:
            diff = _differences(rec.get("search") or {}, search)
            raise ValueError(f"{path} holds trials of another search ({diff}); use the same settings to resume "
                             "it, or another output file")


class ResultsFile:
    """Appends records to `path`; `records` holds those already there (checked to belong to `search`)."""

    def __init__(self, path, search):
        self.path = os.fspath(path)
        self.records, good, self.dropped_bytes = ({}, 0, 0)
        if os.path.exists(self.path):
            self.records, good, self.dropped_bytes = _parse(self.path)
        check_search(self.path, self.records.values(), search)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, good)  # drop an incomplete last line before appending after it
        os.lseek(self._fd, good, os.SEEK_SET)

    def append(self, record):
        data = memoryview(encode(record))
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)
        self.records[int(record["trial"])] = record

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
