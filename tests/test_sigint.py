"""pybp._sigint: Ctrl-C deferred to check points (used by pybp tune), in this process's main thread."""
from __future__ import annotations

import signal
import threading

import pytest

from pybp._sigint import deferred

pytestmark = pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")


@pytest.fixture(autouse=True)
def default_handler():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # what deferred() replaces
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # and gives back


def test_first_ctrl_c_waits_for_a_check_second_raises_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred() as stop:
            signal.raise_signal(signal.SIGINT)
            reached.append(stop.pending)
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
            reached.append(stop.count)
            stop.check()
            reached.append("after check")
    assert reached == [True, 2]


def test_a_pending_ctrl_c_raises_when_the_block_ends_also_a_nested_one():
    with pytest.raises(KeyboardInterrupt):
        with deferred() as outer:
            with pytest.raises(KeyboardInterrupt):
                with deferred() as inner:
                    assert inner is outer
                    assert signal.getsignal(signal.SIGINT) == outer._handle
                    signal.raise_signal(signal.SIGINT)
            assert outer.pending and signal.getsignal(signal.SIGINT) == outer._handle  # the outer block keeps it
    with deferred() as stop:  # a fresh block starts with nothing pending
        stop.check()


def test_other_handlers_and_threads_are_left_alone():
    got = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        with deferred() as stop:
            signal.raise_signal(signal.SIGINT)
            stop.check()  # the caller's handler had it
        assert got == [signal.SIGINT] and not stop.pending
    finally:
        signal.signal(signal.SIGINT, old)
    seen = []

    def in_thread():
        with deferred() as stop:
            seen.append((signal.getsignal(signal.SIGINT), stop.pending))
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [(signal.default_int_handler, False)]
