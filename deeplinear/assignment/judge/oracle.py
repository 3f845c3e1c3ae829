"""The judge's side of an oracle call: it answers the worker's queries itself.

A call of ``numerical_gradient`` gets a black-box ``f``: the worker sends each
array it evaluates over a pipe, and :class:`Oracle` (a thread of the judge)
replies with the judge's own value, recording every query and every value, so
that the checks believe only what the judge saw (``sandbox.Runner.run``).

Wire format, per query: 8 bytes little-endian int64 ``n``, then ``n``
little-endian float64; the reply is ``b"v"`` and the float64 value, or
``b"r"`` and 8 zero bytes when ``f`` raises (:class:`OracleRaise`).
"""

from __future__ import annotations

import os
import struct
import threading

import numpy as np

__all__ = ["Oracle", "OracleRaise", "MAX_QUERIES", "MAX_QUERY_FLOATS"]


class OracleRaise(Exception):
    """Raised by an oracle: the worker's function raises (LookupError) on this query."""


MAX_QUERIES = 100_000
MAX_QUERY_FLOATS = 1 << 20


class Oracle(threading.Thread):
    """Answers the worker's queries with ``fn(array)``; records every query."""

    def __init__(self, fn, rfd, wfd):
        super().__init__(daemon=True)
        self.fn, self.rfd, self.wfd = fn, rfd, wfd
        self.queries, self.values, self.error = [], [], None
        self.start()

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = os.read(self.rfd, n - len(out))
            if not chunk:
                return None
            out += chunk
        return out

    def run(self):
        try:
            while len(self.queries) < MAX_QUERIES:
                head = self._read(8)
                if head is None:
                    return
                (n,) = struct.unpack("<q", head)
                if not 0 <= n <= MAX_QUERY_FLOATS:
                    self.error = f"a query of {n} numbers"
                    return
                body = self._read(8 * n)
                if body is None:
                    return
                x = np.frombuffer(body, dtype="<f8").astype(np.float64)
                self.queries.append(x)
                try:
                    value = float(self.fn(x))
                    self.values.append(value)
                    reply = b"v" + struct.pack("<d", value)
                except OracleRaise:
                    self.values.append(None)
                    reply = b"r" + bytes(8)
                os.write(self.wfd, reply)
            self.error = f"more than {MAX_QUERIES} queries"
        except OSError:
            return
        finally:
            for fd in (self.rfd, self.wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass
