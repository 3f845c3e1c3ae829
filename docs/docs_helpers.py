"""Helpers of the docs build: the gallery's image scraper and the committed figures."""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SavedFigures:
    """An image scraper for sphinx-gallery: the PNGs a tutorial wrote (with
    ``deeplinear.tutorial.save``, which closes its figure) into
    ``$DEEPLINEAR_FIGURES_DIR`` during the code block just run."""

    def __init__(self):
        self.seen = {}

    def __repr__(self):  # sphinx-gallery keys its cache on the repr
        return "SavedFigures()"

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


def add_committed_figure(app, docname, source):
    """Below each tutorial's page, the committed full-mode figure, labelled as such."""
    if not docname.startswith("tutorials/") or docname == "tutorials/index":
        return
    name = docname.split("/", 1)[1]
    png = ROOT / "figures" / f"{name}.png"
    if not png.is_file():
        return
    source[0] += (
        "\n\n.. rubric:: The committed figure (full mode)\n\n"
        f".. figure:: ../../figures/{name}.png\n"
        "   :width: 100%\n"
        f"   :alt: {name}, full mode\n\n"
        f"   ``figures/{name}.png``, from a full-mode run of this script (the figure "
        "above comes from the quick mode that the docs build runs).\n"
    )


#: The scraper instance the gallery's configuration names (``"docs_helpers.saved_figures"``).
saved_figures = SavedFigures()


def set_file(gallery_conf, fname, when):
    """Give the tutorial about to run its ``__file__``, as ``python tutorials/x.py`` does.

    sphinx-gallery runs each script without ``__file__`` (on purpose), and
    the tutorials find ``figures/`` from it. A name missing from a module's
    globals is looked up in ``builtins``, so it is set there for the run of
    one script and removed after it.
    """
    import builtins

    if when == "before":
        builtins.__file__ = str(Path(fname).resolve())
    elif hasattr(builtins, "__file__"):
        del builtins.__file__
