"""The notice on stderr before numba compiles the training loop.

Part of the compiled path (see ``deeplinear._compiled``). The loop has one
compiled specialisation per kind of ``Data`` (l2 moments, l4 moments, the lp
pass), each serving every depth and update rule, and numba keeps it in its
on-disk cache. The first run of a kind on a machine (or after the kernels
changed) compiles it, for 10-25 s (measured 12 s on 2 shared cores); later
runs, with any rule, load it in under a second. :func:`announce_compiling`
says so before a compile, and only then: :func:`needs_compiling` reads
numba's cache index to know.

``DEEPLINEAR_QUIET_COMPILE=1`` silences the notice (the experiments'
``--quiet`` sets it).
"""

from __future__ import annotations

import os
import sys

__all__ = ["compile_message", "needs_compiling", "announce_compiling"]

# (dispatcher, argument types) already checked in this process (a forked
# worker inherits them): each is announced at most once, when it compiles.
_CHECKED: set = set()


def compile_message(what: str) -> str:
    """The notice for compiling ``what`` (e.g. "the training loop for the l2 moments")."""
    return (f"deeplinear: compiling {what} with numba: about 10-25 s, once per kind of data "
            "(l2 moments, l4 moments, lp pass, completion entries); later runs load it from "
            "numba's on-disk cache")


def _argument_types(dispatcher, args):
    """The numba types ``dispatcher`` would compile ``args`` for (None if unknown)."""
    if args is None or not hasattr(dispatcher, "typeof_pyval"):
        return None
    try:
        return tuple(dispatcher.typeof_pyval(a) for a in args)
    except Exception:  # numba internals changed
        return None


def needs_compiling(dispatcher, args=None) -> bool:
    """Whether calling ``dispatcher`` (on ``args``, if given) will compile it:
    numba's on-disk cache has no code for it (for the types of ``args``)
    that matches this numba version and the kernels' source.

    Cheap (one small index file read, no compilation). The index file holds
    the numba version and the source file's stamp (modification time and
    size), and is keyed by the argument types; numba's own loader ignores an
    index whose version or stamp differs, and so does this check. With
    ``args``, only code for their types counts: the loop has one
    specialisation per kind of ``Data``. False when the JIT is disabled,
    when the code is already compiled or loaded in this process, or when
    the cache cannot be inspected (an unknown numba internals layout).
    """
    sig = _argument_types(dispatcher, args)
    overloads = getattr(dispatcher, "overloads", None)
    if overloads and (sig is None or sig in overloads):  # compiled or loaded here already
        return False
    # numba internals, isolated here: the dispatcher's cache and its index
    # file have no public API; any change in them makes this say False.
    cache = getattr(dispatcher, "_cache", None)
    index_file = getattr(cache, "_cache_file", None)
    if index_file is None:  # NUMBA_DISABLE_JIT=1 (a plain function), or no cache
        return False
    try:
        index = index_file._load_index()
    except Exception:  # numba internals changed: say nothing rather than fail
        return False
    if sig is None:
        return not index
    return not any(key[0] == sig for key in index)


def announce_compiling(dispatcher, args, what: str) -> None:
    """Print :func:`compile_message` of ``what`` on a line of its own on
    stderr if calling ``dispatcher`` on ``args`` is about to compile it
    (:func:`needs_compiling`): once per dispatcher and argument types that
    compile, so a later compile of another kind of data is announced too.

    ``DEEPLINEAR_QUIET_COMPILE=1`` silences it.

    Parameters
    ----------
    dispatcher : numba dispatcher
    args : tuple
        The arguments it is about to be called with.
    what : str
        What compiles, for the message.
    """
    key = (dispatcher, _argument_types(dispatcher, args))
    if key in _CHECKED:
        return
    _CHECKED.add(key)
    if needs_compiling(dispatcher, args) and not os.environ.get("DEEPLINEAR_QUIET_COMPILE"):
        print(compile_message(what), file=sys.stderr, flush=True)
