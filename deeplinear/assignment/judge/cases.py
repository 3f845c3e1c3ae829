"""The public cases: inputs of the public grading tests with their expected outputs.

A student's run reads them from ``cases.npz`` beside the public tests
(:class:`Stored`), written by ``release`` from the private reference's
``public_cases()``. The judge never grades on those: it draws fresh inputs of
the same shapes and kinds from a grading-time seed, and computes the expected
values itself with the private reference (:class:`Fresh`). A lookup table of
the stored answers is worth nothing when grading.

A case is a dict of arrays plus ``"params"``, a JSON-able dict of options.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

__all__ = ["FILE", "Stored", "Fresh", "write", "read"]

FILE = "cases.npz"


def write(cases, path):
    """Store ``cases`` (name -> arrays and a JSON ``params``) as an .npz, reproducibly.

    ``numpy.savez`` stamps each member with the current time; here every
    member has a fixed date, so the same cases always give the same bytes.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(cases):
            for key in sorted(cases[name]):
                value = cases[name][key]
                if key == "params":
                    value = np.array(json.dumps(value, sort_keys=True))
                buf = io.BytesIO()
                np.save(buf, np.asarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}/{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())


def read(path) -> dict:
    """The cases of ``write``, loaded with ``allow_pickle=False``."""
    cases = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            name, _, field = key.rpartition("/")
            case = cases.setdefault(name, {})
            if field == "params":
                case["params"] = json.loads(str(data[key]))
            else:
                case[field] = data[key]
    return cases


class Stored:
    """``cases(name)`` from the stored file (a student's own run)."""

    def __init__(self, path):
        self.path, self._cases = path, None

    def __call__(self, name) -> dict:
        if self._cases is None:
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"{self.path}: the stored public cases are missing (a release writes them)")
            self._cases = read(self.path)
        return self._cases[name]


class Fresh:
    """``cases(name)`` drawn from the grading seed by the private reference (the judge)."""

    def __init__(self, private, seed):
        from .private import reference

        if seed is None:
            raise ValueError("--dl-seed: the judge needs a grading seed for fresh cases")
        self._cases = reference(private).public_cases(seed=int(seed))

    def __call__(self, name) -> dict:
        return self._cases[name]
