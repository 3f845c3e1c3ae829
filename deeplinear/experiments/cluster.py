"""Sweeps on a Dask cluster: an executor from a scheduler's address.

``grid_search`` and ``run_grids`` take any ``concurrent.futures`` executor.
Dask's ``distributed`` (the optional extra ``pip install -e
".[distributed]"``) gives one for a cluster of any size, from worker
processes on this machine to SSH hosts, SLURM or PBS jobs (dask-jobqueue) and
Kubernetes:

    with dask_executor("tcp://host:8786") as executor:
        results = grid_search(data, ..., executor=executor)

or, with a ``distributed.Client`` of your own, ``executor=client.get_executor()``.
``"local"`` starts a ``LocalCluster`` of worker processes on 127.0.0.1,
which is what ``--scheduler local`` does on the command line.

Before the first task, :func:`prepare` sends the data to every worker once
(``Client.scatter(..., broadcast=True)``: the tasks then carry a reference,
not the arrays) and has every worker compile or load the kernels, so that
no task pays for it. Results come back as plain lists, dicts and arrays. A
worker that dies mid-sweep has its tasks rerun elsewhere by the scheduler;
every run is a pure function of its task, so the numbers are the same.

Nothing here imports Dask until it is asked for.
"""

from __future__ import annotations

import contextlib

__all__ = ["dask_executor", "prepare", "is_dask_executor", "CONNECT_TIMEOUT"]

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 5.0
_INSTALL = 'the Dask extra is not installed: pip install -e ".[distributed]"'


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise RuntimeError(f"--scheduler: {_INSTALL} ({exc})") from None
    return distributed


@contextlib.contextmanager
def dask_executor(scheduler, *, jobs=None, timeout=CONNECT_TIMEOUT):
    """A ``concurrent.futures`` executor on a Dask cluster, closed on exit.

    Parameters
    ----------
    scheduler : str
        A scheduler's address (``tcp://host:8786``), or ``"local"`` to start
        a ``LocalCluster`` of ``jobs`` single-threaded worker processes on
        127.0.0.1 (no dashboard), stopped on exit.
    jobs : int, optional
        Workers of the local cluster (default: one per core).
    timeout : float
        Seconds to wait for the scheduler.

    Yields
    ------
    concurrent.futures.Executor
        ``client.get_executor()``.

    Raises
    ------
    RuntimeError
        If the extra is not installed.
    ConnectionError
        If no scheduler answers at ``scheduler`` within ``timeout`` seconds;
        the message names the address.
    """
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None))
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            client = distributed.Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"--scheduler: no Dask scheduler answered at {address} within {timeout:g} s "
                f"({type(exc).__name__})") from None
        stack.enter_context(client)
        yield client.get_executor()


def is_dask_executor(executor) -> bool:
    """Whether ``executor`` is Dask's ``ClientExecutor`` (without importing Dask)."""
    return type(executor).__module__.startswith("distributed.")


def prepare(executor, X, Y, warm_up):
    """``(X, Y)`` as the tasks should carry them on ``executor``.

    On a Dask executor: the arrays are scattered to every worker once (the
    returned references stand for them in each task), and every worker runs
    ``warm_up(X, Y)`` on them (compiles or loads the kernels). On any other
    executor the arrays themselves (a process pool pickles them with each
    task).
    """
    client = getattr(executor, "_client", None) if is_dask_executor(executor) else None
    if client is None:
        return X, Y
    X_ref, Y_ref = client.scatter([X, Y], broadcast=True, hash=False)
    workers = list(client.scheduler_info()["workers"])
    client.gather([client.submit(warm_up, X_ref, Y_ref, workers=[w], allow_other_workers=False,
                                 pure=False) for w in workers])
    return X_ref, Y_ref
