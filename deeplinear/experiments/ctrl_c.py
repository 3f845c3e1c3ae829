"""Ctrl-C for a command: stop at once, with no traceback, and keep what finished.

``python -m deeplinear.experiments`` installs a :class:`CtrlC`; its ``main``
catches the ``KeyboardInterrupt`` (a grid's ``Interrupted``), writes the runs
finished so far and exits with :data:`INTERRUPTED`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

__all__ = ["CtrlC", "INTERRUPTED"]

#: The exit status after Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2).
INTERRUPTED = 130


class CtrlC:
    """Ctrl-C for the program, raised in the main thread at once and only once.

    Python raises ``KeyboardInterrupt`` in the main thread when that thread
    next runs Python code, and numba's first compile can lose it (one raised
    in a ctypes callback is printed as "Exception ignored" and dropped; the
    compile may then fail with a ``RuntimeError``). Installed
    (:meth:`install`), this class

    - raises ``KeyboardInterrupt`` on the first Ctrl-C only: later ones are
      ignored, so that the runs finished so far are gathered and written whole;
    - wakes a thread of its own on SIGINT (``signal.set_wakeup_fd``), which
      sends it on to the main thread (where the kernel delivers a signal to
      another thread, the main thread, asleep on a lock, would sleep on), and
      sends it again if the interrupt was lost (``sys.unraisablehook`` sees
      that), until ``main`` has caught it (:meth:`caught`).

    Nothing can interrupt numba's compiled code, which holds the GIL while it
    runs: hence the command runs a grid of more than about a second in worker
    processes, and here only waits (or compiles: numba's compile gets back to
    Python code within about a second).

    Not installed (a test calling the command's ``main``), its methods do nothing.

    Attributes
    ----------
    pressed : bool
        Whether Ctrl-C was pressed (an error after it is of its making).
    """

    def __init__(self):
        self.handled = threading.Event()
        self.installed = self.pressed = self.lost = False

    def install(self):
        """Take over SIGINT in this process (call it from the main thread)."""
        read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, self._on_sigint)
        self.previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        threading.Thread(target=self._watch, args=(read,), daemon=True, name="ctrl-c").start()
        self.installed = True
        return self

    def _on_sigint(self, signum, frame):
        if self.handled.is_set() or (self.pressed and not self.lost):  # the first is handled
            return
        self.pressed, self.lost = True, False
        raise KeyboardInterrupt

    def _unraisable(self, info):
        if isinstance(info.exc_value, KeyboardInterrupt):
            self.lost = True  # the watcher raises it again
        else:
            self.previous_hook(info)

    def caught(self):
        """``main`` has caught Ctrl-C: the watcher stands down, and later Ctrl-Cs are ignored."""
        self.handled.set()

    @contextlib.contextmanager
    def shield(self):
        """Ignore Ctrl-C inside (the files being written)."""
        if not self.installed:
            yield
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _watch(self, read):
        while os.read(read, 1) != bytes([signal.SIGINT]):
            pass
        # The signal may have reached another thread (a pool's, BLAS's): the
        # main thread, asleep on a lock, would not wake up for it.
        main = threading.main_thread().ident
        signal.pthread_kill(main, signal.SIGINT)
        while not self.handled.wait(0.05):
            if self.lost:
                signal.pthread_kill(main, signal.SIGINT)
