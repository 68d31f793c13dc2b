"""Ctrl-C that cannot be lost: inside `deferred()` a first SIGINT only sets a flag, which the code checks where
stopping is safe (`check()` raises KeyboardInterrupt there, and so does leaving the block).

Why: Python runs a SIGINT handler in the main thread between any two bytecodes, finalizers included, and a
KeyboardInterrupt raised inside a __del__ is printed as "Exception ignored in ..." and discarded. `pybp tune` drops
a Dask future after every trial, and distributed's Future.__del__ does enough work (release, a lock, a loop
callback) that a Ctrl-C sometimes landed there: the search ignored it and ran to its end. Raised elsewhere in Dask
(in the middle of a client-loop round trip, or of LocalCluster's start) it left tracebacks behind.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class Interrupts:
    """The SIGINTs received inside a `deferred()` block."""

    def __init__(self):
        self.count = 0

    @property
    def pending(self) -> bool:
        return self.count > 0

    def check(self):
        """Raise KeyboardInterrupt if Ctrl-C was pressed."""
        if self.count:
            raise KeyboardInterrupt

    def _handle(self, signum, frame):
        self.count += 1
        if self.count > 1:  # pressed again: the user wants out now, wherever this lands
            raise KeyboardInterrupt


_current = None  # the Interrupts of the outermost active block


@contextlib.contextmanager
def deferred():
    """Defer SIGINT to this block's check points; yields its Interrupts. A nested block shares the outer one's.
    Leaves SIGINT alone (nothing is deferred) outside the main thread, and when its handler is not Python's
    default: SIG_IGN (a background job), or the caller's own."""
    global _current
    if _current is not None:
        yield _current
        _current.check()
        return
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state
        return
    old = signal.signal(signal.SIGINT, state._handle)
    _current = state
    try:
        yield state
    finally:
        _current = None
        signal.signal(signal.SIGINT, old)
    state.check()
