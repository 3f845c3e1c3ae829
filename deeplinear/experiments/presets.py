"""Named experiments: each a short declaration of the grid(s) it runs.

A preset is a list of grids, each a dict of ``grid_search`` keywords. Most
are a single grid; ``paper-vs-adagrad-adadelta`` needs three because its
optimizers want different learning-rate ranges. Command-line options
override a key in every grid of the preset.

Sources: the report is Levy & Wang (2024), reproducing Arora, Cohen &
Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
Overparameterization", ICML 2018 (the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

from .execution import Interrupted
from .grid import run_grids
from .plan import SERIAL_BELOW_SECONDS
from .results import Results
from .spec import REPORT_HIDDEN, REPORT_LRS

__all__ = ["Preset", "PRESETS", "get_preset", "run_preset"]

#: Depths 1-3 at a modest width: under a balanced init the width does not
#: change the end-to-end dynamics (tutorial 08), so it only costs time.
PAPER_HIDDEN = ((), (10,), (10, 10))
#: Learning-rate grids of the paper presets, measured on Ethanol (1e5 steps,
#: balanced start): each depth's best lr lies inside them, and the next
#: larger one diverges or does worse (tutorials 06 and 07). On other data,
#: check that the best lr is not at an end of the grid (the table says so).
PAPER_L2_LRS = (1e-3, 2e-3, 5e-3, 1e-2, 1.4e-2, 2e-2)
PAPER_L4_LRS = (1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3)
#: The adaptive optimizers' steps do not scale with the gradient: their own grids.
ADAGRAD_LRS = (5e-3, 1e-2, 2e-2, 5e-2, 1e-1)
ADADELTA_LRS = (2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1.0)

#: The paper's horizon: 1e6 steps.
HEADLINE_STEPS = 1_000_000
#: AdaDelta as in TensorFlow, which the paper used (rho 0.95, eps 1e-8);
#: torch's defaults, ours, are rho 0.9, eps 1e-6 (tutorial 10 compares both).
TF_ADADELTA = {"rho": 0.95, "eps": 1e-8}
#: The lr grids of ``paper-headline``, measured on Ethanol (8 of 10 batches)
#: at 1e6 steps from the balanced starts of seeds 0-2: each method's best lr
#: under both criteria (lowest final loss; fewest steps to 1.1x depth-1 GD's
#: best) is inside, with a worse lr on either side. They were cut down from
#: wider grids (GD-1 from 5e-4, AdaGrad 3e-3-2e-2, AdaDelta from 2e-3; the
#: full grids are in the history of figures/10_the_long_horizon.csv) to keep
#: the preset within 20 min on 2 cores. The grids' top lrs diverge (GD in a
#: few steps; depth-2 GD at 5e-4, its best lr for 1e5 steps, near step 1e5,
#: at 3e-4 near 8e5; AdaDelta at 5e-2 near 4e5), which also keeps the time
#: down. Adam's grids come from a 1e6-step probe of seed 0 over 3e-5-2e-3 and
#: a 3e4-step probe of the speed over 3e-4-1e-1: the final loss is flat
#: within 4% over 1e-4-1e-3 (best 5e-4 on depth 1, 1e-4 on depth 2); the
#: target is reached soonest at 3e-3 (depth 1) and 1e-3 (depth 2), in under
#: 1e4 steps.
HEADLINE_LRS = {
    "gd-depth1": (7e-4, 8.5e-4, 1e-3, 1.4e-3, 2e-3),
    "gd-depth2": (2e-4, 2.5e-4, 3e-4, 3.5e-4, 5e-4, 7e-4),
    "adagrad": (7e-3, 1e-2, 1.4e-2),
    "adadelta": (5e-3, 7e-3, 1e-2, 5e-2, 1e-1),
    "adam-depth1": (2e-4, 5e-4, 1e-3, 3e-3, 1e-2),
    "adam-depth2": (3e-5, 1e-4, 3e-4, 1e-3, 3e-3),
}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    grids: tuple

    def with_overrides(self, **overrides):
        """The grids with every given (non-None) keyword replaced."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return [{**grid, **overrides} for grid in self.grids]


def _report(**changes):
    grid = dict(hidden=REPORT_HIDDEN, init="default", optimizer="sgd", loss="l2", steps=100,
                lrs=REPORT_LRS, seeds=(0, 1, 2))
    grid.update(changes)
    return grid


def _paper(**changes):
    grid = dict(hidden=PAPER_HIDDEN, init="balanced", optimizer="sgd", loss="l4",
                steps=100_000, lrs=PAPER_L4_LRS, seeds=(0,))
    grid.update(changes)
    return grid


PRESETS = {p.name: p for p in [
    Preset("report-fig2", "Report Fig. 2: the seven architectures, PyTorch's default init, "
           "SGD on MSE, 100 steps, best of the report's lr grid, 3 seeds.",
           (_report(),)),
    Preset("report-fig3", "Report Fig. 3: near-zero (std 0.02) against near-identity init.",
           (_report(init=("near_zero", "near_identity")),)),
    Preset("report-fig4", "Report Fig. 4: SGD against Adam, near-identity init.",
           (_report(init="near_identity", optimizer=("sgd", "adam")),)),
    Preset("paper-l2-vs-l4", "The paper's l2/l4 experiment: depths 1-3 from the same "
           "balanced W_e, l2 against l4, 1e5 steps. Depth should help l4 only.",
           (_paper(loss="l2", lrs=PAPER_L2_LRS), _paper(loss="l4"))),
    Preset("paper-vs-adagrad-adadelta", "The paper's headline: l4, gradient descent on "
           "depth 2 (hidden width 1: one extra scalar, or 10) against GD, AdaGrad and "
           "AdaDelta on depth 1.",
           (_paper(hidden=((), (1,), (10,))),
            _paper(hidden=((),), optimizer="adagrad", lrs=ADAGRAD_LRS),
            _paper(hidden=((),), optimizer="adadelta", lrs=ADADELTA_LRS))),
    Preset("paper-headline", "The paper's headline at its own horizon: l4, one balanced "
           "start per seed, 1e6 steps, 3 seeds; GD on depth 1 and on depth 2 (hidden width "
           "1) against AdaGrad and AdaDelta (TensorFlow's rho 0.95, eps 1e-8) on depth 1, "
           "and Adam on depth 1 and depth 2 [1], 3 to 6 lrs each (87 runs). Meant for "
           "ethanol; 14 min on 2 idle cores (measured).",
           (_paper(hidden=((),), lrs=HEADLINE_LRS["gd-depth1"], steps=HEADLINE_STEPS,
                   seeds=(0, 1, 2)),
            _paper(hidden=((1,),), lrs=HEADLINE_LRS["gd-depth2"], steps=HEADLINE_STEPS,
                   seeds=(0, 1, 2)),
            _paper(hidden=((),), optimizer="adagrad", lrs=HEADLINE_LRS["adagrad"],
                   steps=HEADLINE_STEPS, seeds=(0, 1, 2)),
            _paper(hidden=((),), optimizer="adadelta", lrs=HEADLINE_LRS["adadelta"],
                   steps=HEADLINE_STEPS, seeds=(0, 1, 2), optimizer_options=TF_ADADELTA),
            _paper(hidden=((),), optimizer="adam", lrs=HEADLINE_LRS["adam-depth1"],
                   steps=HEADLINE_STEPS, seeds=(0, 1, 2)),
            _paper(hidden=((1,),), optimizer="adam", lrs=HEADLINE_LRS["adam-depth2"],
                   steps=HEADLINE_STEPS, seeds=(0, 1, 2)))),
    Preset("e2e-vs-deep", "Deep gradient descent against its closed-form end-to-end update "
           "(Theorem 1), depths 2-3, balanced init, l2 and l4.",
           (dict(hidden=((10,), (10, 10)), init="balanced", optimizer=("sgd", "e2e"),
                 loss=("l2", "l4"), steps=2000, lrs=(1e-3, 1e-2), seeds=(0,)),)),
]}

DEFAULT_PRESET = "report-fig2"


def get_preset(name) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset: unknown {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]


def run_preset(name, data, executor=None, progress=False, serial_below=None, *, grids=None,
               **overrides) -> Results:
    """Run every grid of a preset on ``data``; keywords override the preset's values.

    ``executor``, ``progress`` and ``serial_below`` (default
    ``plan.SERIAL_BELOW_SECONDS``) are those of ``grid.run_grids``. The
    results' ``config["preset"]`` names the preset, also those of an
    ``Interrupted``. ``grids`` (the preset's grids with overrides applied,
    for example already checked into ``GridSpec``) replaces the preset's.
    """
    preset = get_preset(name)
    if grids is not None and overrides:
        raise ValueError(f"grids: given, so the overrides {sorted(overrides)} would be lost; "
                         "apply them to the grids (Preset.with_overrides)")
    grids = preset.with_overrides(**overrides) if grids is None else grids
    try:
        results = run_grids(data, grids, executor=executor,
                            progress=progress,
                            serial_below=SERIAL_BELOW_SECONDS if serial_below is None
                            else serial_below)
    except Interrupted as exc:
        exc.results.config["preset"] = preset.name
        raise
    results.config["preset"] = preset.name
    return results
