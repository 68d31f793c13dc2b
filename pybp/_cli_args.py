"""Argument checks shared by every `pybp` subcommand (and `pybp bench`): numbers in a range, output files checked
before the work that fills them, and usage errors as one line with exit code 2.

Use them as argparse types: ``ap.add_argument("--batch", type=int_in(1))``; a bad value prints
``pybp train: error: argument --batch: must be an integer >= 1, got '0' (see 'pybp train --help')``.
"""
from __future__ import annotations

import argparse
import math
import os

from ._files import atomic_write, check_output_path


class CliError(Exception):
    """A problem the user can fix that shows only after parsing (a flag that does not apply to the chosen network,
    an unwritable output directory, a backend or dataset that is not installed). cli.main prints it as one line
    and exits with code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the full usage is one `--help` away and would bury the message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _span(lo, hi) -> str:
    return f">= {lo}" if hi is None else f"in {lo}..{hi}"


def int_in(lo: int, hi: int | None = None):
    """argparse type: an integer lo <= n (<= hi)."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {_span(lo, hi)}, got {text!r}")
        return v
    return parse


def positive_float(text):
    """argparse type: a finite float > 0 (rejects nan, inf, 0 and negatives)."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return v


def float_between(lo: float, hi: float):
    """argparse type: a number strictly between lo and hi (a share such as --val-rate; rejects nan)."""
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not lo < v < hi:  # False for nan
            raise argparse.ArgumentTypeError(f"must be a number > {lo:g} and < {hi:g}, got {text!r}")
        return v
    return parse


class LowHigh(argparse.Action):
    """nargs=2 flag whose values (already checked by its `type`) must satisfy LOW <= HIGH, e.g. a search range:
    ``ap.add_argument("--lr", nargs=2, type=positive_float, action=LowHigh, metavar=("LOW", "HIGH"))``."""

    def __call__(self, parser, namespace, values, option_string=None):
        low, high = values
        if low > high:
            raise argparse.ArgumentError(self, f"LOW must be <= HIGH, got {low:g} {high:g}")
        setattr(namespace, self.dest, list(values))


def output_file(flag: str, path: str, ext: str | None, formats=None) -> str:
    """The file an output flag will really write, checked now (directory exists and is writable).

    ext: the extension added when `path` has none (as numpy.savez and matplotlib do: `--save w2` writes
    w2.npz); None: `path` as given. formats: the extensions the writer understands; another one is a
    CliError. None: like numpy.savez, any other extension gets `ext` appended."""
    given = os.path.splitext(path)[1].lower().lstrip(".")
    if ext is None:
        real = path
    elif formats is None:  # numpy.savez's rule, case-sensitive: w.NPZ becomes w.NPZ.npz
        real = path if path.endswith(f".{ext}") else f"{path}.{ext}"
    elif not given:
        real = f"{path}.{ext}"
    elif given in formats:
        real = path
    else:
        raise CliError(f"{flag} {path}: cannot write .{given} files; use one of {', '.join(sorted(formats))}")
    try:
        return check_output_path(real, flag)
    except ValueError as e:
        raise CliError(str(e)) from None


def write_output(flag: str, path: str, write) -> None:
    """write(tmp_path) fills a temporary file next to `path`, which then replaces `path` in one rename: an
    error (disk full, Ctrl-C) leaves no half-written file. OSError becomes a CliError naming the flag."""
    try:
        with atomic_write(path) as tmp:
            write(tmp)
    except OSError as e:
        raise CliError(f"{flag} {path}: cannot write it ({e.strerror or e})") from None
