"""Helpers of the docs build (docs/conf.py): the gallery's image scraper, the
committed figures (below each tutorial's page and as the gallery's thumbnails),
the quick-run note at the top of each tutorial's page, the data check that
runs before the gallery, and the removal of stale API stubs."""

import importlib
import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = ROOT / "figures"
#: The data sets a tutorial can load with ``tutorial.load_data``.
DATA_SETS = ("abalone", "ethanol")


class SavedFigures:
    """An image scraper for sphinx-gallery: the PNGs a tutorial wrote (with
    ``deeplinear.tutorial.save``, which closes its figure) into
    ``$DEEPLINEAR_FIGURES_DIR`` during the code block just run."""

    def __init__(self):
        self.seen = {}

    def __repr__(self):  # sphinx-gallery keys its cache on the repr
        return "SavedFigures()"

    def snapshot(self):
        """Mark every PNG already in the folder as seen (those of earlier builds or
        tutorials), so that a tutorial's page shows only the figures it wrote."""
        folder = Path(os.environ["DEEPLINEAR_FIGURES_DIR"])
        self.seen = {path: path.stat().st_mtime_ns for path in folder.glob("*.png")}

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        folder = Path(os.environ["DEEPLINEAR_FIGURES_DIR"])
        written = []
        for path in sorted(folder.glob("*.png")):
            stamp = path.stat().st_mtime_ns
            if self.seen.get(path) != stamp:
                self.seen[path] = stamp
                written.append(path)
        images = []
        for path, target in zip(written, block_vars["image_path_iterator"]):
            shutil.copyfile(path, target)
            images.append(target)
        return figure_rst(images, gallery_conf["src_dir"])


#: The scraper instance the gallery's configuration names (``"docs_helpers.saved_figures"``).
saved_figures = SavedFigures()


def before_each_tutorial(gallery_conf, fname, when):
    """A ``reset_modules`` hook of the gallery: before a tutorial runs, the figures
    already in ``$DEEPLINEAR_FIGURES_DIR`` are not its own."""
    if when == "before":
        saved_figures.snapshot()


def _tutorial_name(docname):
    """``"01_deep_linear_networks"`` for ``"tutorials/01_deep_linear_networks"``, else None."""
    if not re.fullmatch(r"tutorials/\d\d_\w+", docname):
        return None
    return docname.split("/", 1)[1]


QUICK_RUN_NOTE = """
.. admonition:: The output on this page comes from a quick run
   :class: important

   The site runs this script in quick mode while it builds
   (``DEEPLINEAR_QUICK=1``: fewer steps, seeds and learning rates), so that the code
   and its printed output stay in step. The tables printed below and the figures between
   the code blocks come from that quick run: their numbers mean nothing. The text quotes
   the full run (``python tutorials/{name}.py``), whose numbers are in the committed
   ``figures/{name}.csv`` and whose figure is at the bottom of this page.
"""


def add_quick_run_note(app, docname, source):
    """At the top of each tutorial's page, under its title: the printed output is a quick run."""
    name = _tutorial_name(docname)
    if name is None:
        return
    text = source[0]
    # the title is the first line underlined with '=' after sphinx-gallery's label
    title = re.search(r"^\.\. _sphx_glr_tutorials_.*?\n\n[^\n]+\n=+\n", text, re.MULTILINE | re.DOTALL)
    if title is None:
        return
    at = title.end()
    source[0] = text[:at] + QUICK_RUN_NOTE.format(name=name) + text[at:]


def add_committed_figure(app, docname, source):
    """Below each tutorial's page, the committed full-mode figure, labelled as such."""
    name = _tutorial_name(docname)
    if name is None or not (FIGURES / f"{name}.png").is_file():
        return
    source[0] += (
        "\n\n.. rubric:: The committed figure (full mode)\n\n"
        f".. figure:: ../../figures/{name}.png\n"
        "   :width: 100%\n"
        f"   :alt: {name}, full mode\n\n"
        f"   ``figures/{name}.png``, from a full-mode run of this script; its numbers are in "
        f"``figures/{name}.csv`` (the figure above comes from the quick mode that the docs "
        "build runs).\n"
    )


def committed_thumbnails(app):
    """The gallery's thumbnails: each tutorial's committed full-mode figure, scaled by
    sphinx-gallery itself, in place of the quick run's first figure (too small to read)."""
    from sphinx_gallery.gen_rst import scale_image

    conf = app.config.sphinx_gallery_conf
    thumbs = DOCS / "tutorials" / "images" / "thumb"
    if not thumbs.is_dir():
        return
    for png in sorted(FIGURES.glob("[0-9][0-9]_*.png")):
        thumb = thumbs / f"sphx_glr_{png.stem}_thumb.png"
        if not thumb.exists():
            continue  # not a tutorial of the gallery
        new = thumb.with_suffix(".new.png")
        scale_image(str(png), str(new), *conf["thumbnail_size"])
        if new.read_bytes() == thumb.read_bytes():
            new.unlink()  # unchanged: leave the file (and the build's cache) alone
        else:
            new.replace(thumb)


def data_sets_needed(script):
    """The data sets a tutorial script loads (``tutorial.load_data("abalone")``, or
    names listed in the script when it loads them in a loop)."""
    text = Path(script).read_text(encoding="utf-8")
    if "load_data(" not in text:
        return set()
    return {name for name in DATA_SETS if re.search(rf"[\"']{name}[\"']", text)}


def _will_run(script, gallery_dir):
    """True unless sphinx-gallery has this script's output cached (same md5)."""
    from sphinx_gallery.gen_rst import md5sum_is_current

    target = Path(gallery_dir) / Path(script).name
    return not (target.exists() and target.with_suffix(".rst").exists()
                and md5sum_is_current(target, mode="t"))


def _load(name):
    from deeplinear import tutorial

    tutorial.load_data(name)


def missing_data(scripts, gallery_dir, load=_load):
    """The message to stop the build with, or None when every tutorial that the gallery
    will run finds its data.

    A tutorial whose output is cached (unchanged since the last build) does not
    run, so it needs no data. ``load(name)`` raises ``DataError`` when a data set
    is unavailable (no local copy, no cache and no network); the message's first
    line names the tutorials that cannot run, the rest is the data message itself.
    """
    from deeplinear.datasets import DataError

    needs = {}
    for script in scripts:
        if _will_run(script, gallery_dir):
            for name in data_sets_needed(script):
                needs.setdefault(name, []).append(Path(script).stem)
    messages, blocked = [], set()
    for name in sorted(needs):
        try:
            load(name)
        except DataError as exc:
            messages.append(str(exc).strip())
            blocked.update(needs[name])
    if not messages:
        return None
    tutorials = ", ".join(sorted(blocked))
    return (f"cannot run the tutorials {tutorials}: their data is not available "
            "(set DEEPLINEAR_DATA_DIR, see docs/data.md).\n" + "\n".join(messages))


def _resolves(name):
    """True if the dotted ``name`` is a module, or an attribute of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def remove_stale_stubs(app):
    """Remove the API stubs (``docs/generated/*.rst``) of names that no longer exist.

    autosummary writes one stub per public name and never deletes one; a stub
    left from a renamed function would fail the build (``-W``)."""
    for stub in sorted((DOCS / "generated").glob("*.rst")):
        if not _resolves(stub.stem):
            stub.unlink()
