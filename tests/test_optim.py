"""Tests for deeplinear.optim and its numba twins in deeplinear._kernels.optim.

Three independent views of every update rule are compared:

* scalar "by hand" recurrences written in this file with Python floats, one
  entry at a time (``_sgd_by_hand`` etc.) and a few values worked out on paper;
* the NumPy ``update`` methods of the optimizer classes, reached through
  ``Optimizer.step`` (the library's Python path);
* the numba kernels that the compiled training loop runs, against ``update``.

Tolerances: one step of any rule is a handful of float64 operations, each
rounding by at most 2**-53 ~ 1.1e-16 relative, so three steps agree with an
independent evaluation of the same formula to ~1e-15. ``rtol=1e-12`` leaves
ample room for a different (but equivalent) order of operations while still
failing on any real formula error, which changes results at the 1e-3 level or
more with the data below.
"""

import inspect
import math

import numpy as np
import pytest
from helpers import judge_reference
from numpy.testing import assert_allclose

from deeplinear import optim
from deeplinear._kernels import optim as kernels
from deeplinear.optim import SGD, AdaDelta, AdaGrad, Adam, make_optimizer

pytestmark = pytest.mark.nojit  # small arrays only: cheap with NUMBA_DISABLE_JIT=1

RTOL = 1e-12

# --- a 2x2 parameter and three gradients chosen by hand ---------------------
P0 = [[0.5, -1.25], [2.0, -0.75]]
GRADS = [
    [[0.3, -0.2], [1.5, -0.05]],
    [[-0.4, 0.1], [0.7, 0.25]],
    [[0.2, -0.6], [-1.1, 0.05]],
]
# For AMSGrad the second moment must *decrease* at some step, otherwise
# vmax == v and the option is invisible: large gradients first, then tiny ones.
GRADS_SHRINKING = [GRADS[0], [[0.01 * x for x in row] for row in GRADS[1]],
                   [[0.01 * x for x in row] for row in GRADS[2]]]


# --- scalar recurrences, one entry at a time, Python floats only ------------

# SGD's and Adam's scalar rules are the judge's (instructor/gradereference.py),
# so that the rule the grader holds students to and the one these tests hold
# the library to are one and the same.
_REFERENCE = judge_reference()


def _sgd_by_hand(p, gs, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    out, buf = [], 0.0
    for t, g in enumerate(gs, start=1):
        p, buf = _REFERENCE.sgd_scalar(p, g, buf, t, lr, momentum, dampening, nesterov,
                                       weight_decay)
        out.append(p)
    return out


def _adam_by_hand(p, gs, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  amsgrad=False):
    out, m, v, vmax = [], 0.0, 0.0, 0.0
    for t, g in enumerate(gs, start=1):
        p, m, v, vmax = _REFERENCE.adam_scalar(p, g, m, v, vmax, t, lr, betas, eps,
                                               weight_decay, amsgrad)
        out.append(p)
    return out


def _adagrad_by_hand(p, gs, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                     initial_accumulator_value=0.0, eps=1e-10):
    out, s = [], initial_accumulator_value
    for t, g in enumerate(gs, start=1):
        clr = lr / (1.0 + (t - 1) * lr_decay)
        if weight_decay != 0.0:
            g = g + weight_decay * p
        s = s + g * g
        p = p - clr * g / (math.sqrt(s) + eps)
        out.append(p)
    return out


def _adadelta_by_hand(p, gs, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    out, v, u = [], 0.0, 0.0
    for g in gs:
        if weight_decay != 0.0:
            g = g + weight_decay * p
        v = rho * v + (1.0 - rho) * g * g
        dx = math.sqrt(u + eps) / math.sqrt(v + eps) * g
        u = rho * u + (1.0 - rho) * dx * dx
        p = p - lr * dx
        out.append(p)
    return out


def _by_hand(fn, grads, **kwargs):
    """Run a scalar recurrence on every entry of P0; return the 3 parameter matrices."""
    traj = [[fn(P0[i][j], [G[i][j] for G in grads], **kwargs) for j in range(2)]
            for i in range(2)]
    return [np.array([[traj[i][j][k] for j in range(2)] for i in range(2)])
            for k in range(len(grads))]


# (class, hand recurrence, base options, option under test, gradients)
CASES = {
    "sgd-plain": (SGD, _sgd_by_hand, dict(lr=0.1), {}, GRADS),
    "sgd-momentum": (SGD, _sgd_by_hand, dict(lr=0.1), dict(momentum=0.9), GRADS),
    "sgd-nesterov": (SGD, _sgd_by_hand, dict(lr=0.1, momentum=0.9), dict(nesterov=True), GRADS),
    "sgd-dampening": (SGD, _sgd_by_hand, dict(lr=0.1, momentum=0.9), dict(dampening=0.3), GRADS),
    "sgd-weight-decay": (SGD, _sgd_by_hand, dict(lr=0.1), dict(weight_decay=0.05), GRADS),
    "sgd-momentum-weight-decay": (SGD, _sgd_by_hand, dict(lr=0.1, momentum=0.5),
                                  dict(weight_decay=0.05), GRADS),
    "adam-bias-correction": (Adam, _adam_by_hand, dict(lr=0.01), {}, GRADS),
    "adam-betas": (Adam, _adam_by_hand, dict(lr=0.01), dict(betas=(0.5, 0.7)), GRADS),
    "adam-eps": (Adam, _adam_by_hand, dict(lr=0.01), dict(eps=0.1), GRADS),
    "adam-weight-decay": (Adam, _adam_by_hand, dict(lr=0.01), dict(weight_decay=0.1), GRADS),
    "adam-amsgrad": (Adam, _adam_by_hand, dict(lr=0.01, betas=(0.9, 0.99)),
                     dict(amsgrad=True), GRADS_SHRINKING),
    "adagrad-plain": (AdaGrad, _adagrad_by_hand, dict(lr=0.1), {}, GRADS),
    "adagrad-lr-decay": (AdaGrad, _adagrad_by_hand, dict(lr=0.1), dict(lr_decay=0.5), GRADS),
    "adagrad-initial-accumulator": (AdaGrad, _adagrad_by_hand, dict(lr=0.1),
                                    dict(initial_accumulator_value=0.25), GRADS),
    "adagrad-eps": (AdaGrad, _adagrad_by_hand, dict(lr=0.1), dict(eps=0.5), GRADS),
    "adagrad-weight-decay": (AdaGrad, _adagrad_by_hand, dict(lr=0.1),
                             dict(weight_decay=0.1), GRADS),
    "adadelta-plain": (AdaDelta, _adadelta_by_hand, {}, {}, GRADS),
    "adadelta-rho": (AdaDelta, _adadelta_by_hand, {}, dict(rho=0.5), GRADS),
    "adadelta-eps-lr": (AdaDelta, _adadelta_by_hand, {}, dict(eps=1e-2, lr=0.5), GRADS),
    "adadelta-weight-decay": (AdaDelta, _adadelta_by_hand, {}, dict(weight_decay=0.1), GRADS),
}


@pytest.mark.parametrize("case", list(CASES))
def test_three_steps_match_scalar_hand_computation(case):
    cls, by_hand, base, option, grads = CASES[case]
    options = {**base, **option}
    expected = _by_hand(by_hand, grads, **options)
    if option:
        # Guard on the test data: the option must change the trajectory, or an
        # implementation that ignored it would pass this test.
        without = _by_hand(by_hand, grads, **base)
        assert not np.allclose(expected[-1], without[-1], rtol=1e-6, atol=0), (
            f"{case}: test data does not exercise {option}")

    W = np.array(P0)
    opt = cls([W], **options)
    for t, (G, P_t) in enumerate(zip(grads, expected), start=1):
        opt.step([np.array(G)])
        assert_allclose(W, P_t, rtol=RTOL, atol=0, err_msg=f"{case}: step {t}")
    assert opt.t == 3


# Values worked out on paper (single entry, p0 = 0, gradient 1 at every step).
PAPER = {
    # buffer 1, 1.9, 2.71 -> p = -0.1, -0.29, -0.561
    "sgd-momentum": (SGD, dict(lr=0.1, momentum=0.9), [-0.1, -0.29, -0.561]),
    # nesterov uses g + 0.9 * buffer = 1.9, 2.71, 3.439
    "sgd-nesterov": (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), [-0.19, -0.461, -0.8049]),
    # constant gradient and eps = 0: m_hat = 1, v_hat = 1, every step moves exactly lr
    "adam": (Adam, dict(lr=0.01, eps=0.0), [-0.01, -0.02, -0.03]),
    # sum = 1, 2, 3 and the rate 0.1 / (1 + (t - 1) / 2) = 0.1, 0.1/1.5, 0.1/2
    "adagrad": (AdaGrad, dict(lr=0.1, lr_decay=0.5, eps=0.0),
                [-0.1, -0.1 - 0.1 / 1.5 / math.sqrt(2),
                 -0.1 - 0.1 / 1.5 / math.sqrt(2) - 0.05 / math.sqrt(3)]),
    # rho = 0.75, eps = 0.25:
    # t=1: v = 1/4,  dx = sqrt(0 + 1/4)/sqrt(1/4 + 1/4) = sqrt(1/2),     u = 1/8
    # t=2: v = 7/16, dx = sqrt(1/8 + 1/4)/sqrt(7/16 + 1/4) = sqrt(6/11), u = 3/32 + 3/22 = 81/352
    # t=3: v = 37/64, dx = sqrt(81/352 + 1/4)/sqrt(37/64 + 1/4) = sqrt((169/352)/(53/64))
    "adadelta": (AdaDelta, dict(lr=1.0, rho=0.75, eps=0.25),
                 [-math.sqrt(1 / 2), -math.sqrt(1 / 2) - math.sqrt(6 / 11),
                  -math.sqrt(1 / 2) - math.sqrt(6 / 11) - math.sqrt((169 / 352) / (53 / 64))]),
}


@pytest.mark.parametrize("case", list(PAPER))
def test_paper_values(case):
    cls, options, expected = PAPER[case]
    W = np.zeros((1, 1))
    opt = cls([W], **options)
    for t, value in enumerate(expected, start=1):
        opt.step([np.ones((1, 1))])
        assert_allclose(W[0, 0], value, rtol=RTOL, err_msg=f"{case}: step {t}")


def test_adam_first_step_is_lr_times_sign(rng):
    # After one step m_hat = g and sqrt(v_hat) = |g|, so the step is
    # -lr * g / (|g| + eps) = -lr * sign(g) / (1 + eps/|g|): it differs from
    # -lr * sign(g) by lr * eps/|g| (at most 1e-5 * lr here, for |g| = 1e-3),
    # plus rounding of p1 - p0 (a few ulps of |p|).
    lr, eps = 0.05, 1e-8
    G = rng.choice([-1.0, 1.0], size=(4, 5)) * 10.0 ** rng.uniform(-3, 1, size=(4, 5))
    W = rng.standard_normal((4, 5))
    W0 = W.copy()
    Adam([W], lr=lr, eps=eps).step([G])
    err = np.abs((W - W0) - (-lr * np.sign(G)))
    bound = lr * eps / np.abs(G) * 1.01 + 8 * np.finfo(float).eps * np.abs(W0)
    assert np.all(err <= bound), f"Adam first step is not -lr*sign(g): excess {np.max(err - bound)}"


# --- kernels against the NumPy update methods on random inputs ---------------

# (class, options): every option of every rule, each on and off somewhere.
KERNEL_CASES = {
    "sgd-plain": (SGD, dict()),
    "sgd-weight-decay": (SGD, dict(weight_decay=0.02)),
    "sgd-momentum": (SGD, dict(momentum=0.9)),
    "sgd-momentum-dampening-wd": (SGD, dict(momentum=0.8, dampening=0.3, weight_decay=0.02)),
    "sgd-nesterov": (SGD, dict(momentum=0.9, nesterov=True)),
    "sgd-nesterov-wd": (SGD, dict(momentum=0.7, nesterov=True, weight_decay=0.1)),
    "adam": (Adam, dict()),
    "adam-betas-eps": (Adam, dict(betas=(0.5, 0.7), eps=1e-3)),
    "adam-wd": (Adam, dict(weight_decay=0.1)),
    "adam-amsgrad": (Adam, dict(betas=(0.9, 0.99), amsgrad=True)),
    "adam-amsgrad-wd": (Adam, dict(betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1,
                                   amsgrad=True)),
    "adagrad": (AdaGrad, dict()),
    "adagrad-decay-wd": (AdaGrad, dict(lr_decay=0.3, eps=1e-3, weight_decay=0.05)),
    "adagrad-initial-accumulator": (AdaGrad, dict(initial_accumulator_value=0.25)),
    "adadelta": (AdaDelta, dict()),
    "adadelta-wd": (AdaDelta, dict(rho=0.6, eps=1e-3, weight_decay=0.1)),
}
STATE_ORDER = {SGD: ["momentum_buffer"], Adam: ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
               AdaGrad: ["sum"], AdaDelta: ["square_avg", "acc_delta"]}


def _kernel_step(opt, p, g, state, t):
    """One step of the numba twin of ``opt``'s rule on 1-D views, with opt's hyperparameters."""
    p, g = p.reshape(-1), g.reshape(-1)
    s = {key: arr.reshape(-1) for key, arr in state.items()}
    empty = np.empty(0)  # a state array the options never touch
    if isinstance(opt, SGD):
        kernels.sgd_update(p, g, s.get("momentum_buffer", empty), t, opt.lr, opt.momentum,
                           opt.dampening, opt.nesterov, opt.weight_decay)
    elif isinstance(opt, Adam):
        kernels.adam_update(p, g, s["exp_avg"], s["exp_avg_sq"], s.get("max_exp_avg_sq", empty),
                            t, opt.lr, opt.betas[0], opt.betas[1], opt.eps, opt.weight_decay,
                            opt.amsgrad)
    elif isinstance(opt, AdaGrad):
        kernels.adagrad_update(p, g, s["sum"], t, opt.lr, opt.lr_decay, opt.eps,
                               opt.weight_decay)
    else:
        kernels.adadelta_update(p, g, s["square_avg"], s["acc_delta"], opt.lr, opt.rho,
                                opt.eps, opt.weight_decay)


# What the compiled loop reads from each class, by the kernel's parameter names.
KERNEL_HYPER = {
    SGD: lambda o: dict(lr=o.lr, momentum=o.momentum, dampening=o.dampening,
                        nesterov=o.nesterov, weight_decay=o.weight_decay),
    Adam: lambda o: dict(lr=o.lr, beta1=o.betas[0], beta2=o.betas[1], eps=o.eps,
                         weight_decay=o.weight_decay, amsgrad=o.amsgrad),
    AdaGrad: lambda o: dict(lr=o.lr, lr_decay=o.lr_decay, eps=o.eps,
                            weight_decay=o.weight_decay),
    AdaDelta: lambda o: dict(lr=o.lr, rho=o.rho, eps=o.eps, weight_decay=o.weight_decay),
}


@pytest.mark.parametrize("cls", [SGD, Adam, AdaGrad, AdaDelta], ids=lambda c: c.name)
def test_kernel_tables_are_the_kernels_parameter_names(cls):
    """``kernel_state`` and ``kernel_fields`` are the names of the parameters of
    the rule's kernel, in its order: ``(p, g, *state, [t], *fields)``. The
    compiled loop passes them by these names, so a table that named a
    parameter wrongly would fail to compile there; this says which."""
    kernel = getattr(kernels, f"{cls.name}_update")
    names = list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters)
    t = ["t"] if "t" in names else []
    assert names == ["p", "g", *cls.kernel_state, *t, *cls.kernel_fields]
    assert list(cls.kernel_state) == STATE_ORDER[cls]
    # every field is a hyperparameter of the class, or derived from one
    assert set(cls.kernel_fields) - set(cls.hyperparameters) <= {"beta1", "beta2"}


def test_the_e2e_kernel_table_is_the_kernels_parameter_names():
    """The end-to-end update (``optimizer="e2e"``, compiled on [W_e]) has the
    tables of an optimizer in ``_compiled.EndToEndRule``: no state, no
    ``t``, hyperparameters ``lr`` and ``depth``."""
    from deeplinear._compiled import EndToEndRule

    kernel = kernels.e2e_update
    names = list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters)
    assert names == ["p", "g", *EndToEndRule.kernel_state, *EndToEndRule.kernel_fields]
    assert EndToEndRule.kernel_fields == ("lr", "depth") and EndToEndRule.kernel_state == ()
    assert EndToEndRule(4).kernel_hyperparameters() == {"depth": 4}


def test_the_kernel_tuples_hold_the_union_of_the_tables():
    from deeplinear._compiled import EndToEndRule
    from deeplinear._kernels.interface import Hyper, States

    classes = [*optim.OPTIMIZERS.values(), EndToEndRule]
    assert set(Hyper._fields) == {f for cls in classes for f in cls.kernel_fields}
    assert set(States._fields) == {key for cls in classes for key in cls.kernel_state}


@pytest.mark.parametrize("case", list(KERNEL_CASES))
def test_kernel_hyperparameters_are_read_by_name(case):
    cls, options = KERNEL_CASES[case]
    opt = cls([np.ones((2, 3))], lr=0.3, **options)
    assert optim.OPTIMIZERS[opt.name] is cls
    assert opt.kernel_hyperparameters() == KERNEL_HYPER[cls](opt)
    assert list(opt.kernel_hyperparameters()) == list(cls.kernel_fields)
    # The state keys the options create are among the kernel's, in its order.
    assert [key for key in cls.kernel_state if key in opt.state[0]] == list(opt.state[0])


def test_kernel_codes_cover_every_optimizer():
    from deeplinear._kernels import train as kernel_train

    assert set(kernel_train.CODES) == set(optim.OPTIMIZERS) | {"e2e"}
    assert sorted(kernel_train.CODES.values()) == list(range(len(optim.OPTIMIZERS) + 1))


def test_defaults_are_read_from_the_attributes():
    opt = Adam([np.ones((2, 2))], lr=0.1, betas=(0.5, 0.6), amsgrad=True)
    assert opt.defaults == dict(lr=0.1, betas=(0.5, 0.6), eps=1e-8, weight_decay=0.0,
                                amsgrad=True)
    assert repr(opt) == ("Adam(lr=0.1, betas=(0.5, 0.6), eps=1e-08, weight_decay=0.0, "
                         "amsgrad=True, t=0)")
    for cls in (SGD, Adam, AdaGrad, AdaDelta):  # every constructor option is a hyperparameter
        assert list(inspect.signature(cls).parameters)[1:] == list(cls.hyperparameters)


@pytest.mark.parametrize("case", list(KERNEL_CASES))
def test_kernel_matches_update_method(case, rng):
    cls, options = KERNEL_CASES[case]
    for trial in range(3):
        shape = tuple(int(s) for s in rng.integers(1, 7, size=2))
        lr = float(rng.uniform(0.01, 0.5))
        p = rng.standard_normal(shape)
        opt = cls([p], lr=lr, **options)
        # Random state (a running optimizer's, not the zeros of a fresh one):
        # moments and accumulators are >= 0, a momentum buffer has any sign.
        for key, arr in opt.state[0].items():
            arr[...] = rng.standard_normal(shape) if key == "momentum_buffer" else \
                np.abs(rng.standard_normal(shape))
        if cls is Adam and opt.amsgrad:
            st = opt.state[0]
            st["max_exp_avg_sq"][...] = st["exp_avg_sq"] * rng.uniform(0.5, 1.5, size=shape)
        opt.t = int(rng.integers(0, 3))  # t = 1 on the first step exercises SGD's buffer init
        twin_p = p.copy()
        twin_state = {key: arr.copy() for key, arr in opt.state[0].items()}
        for _ in range(4):
            g = rng.standard_normal(shape)
            opt.step([g])  # Optimizer.step -> update (NumPy), t incremented first
            _kernel_step(opt, twin_p, g, twin_state, opt.t)
            # 1e-12 relative: the same handful of float64 operations per entry,
            # in the same order up to pow/sqrt rounding (~1e-16); atol: entries
            # crossing zero keep only the absolute accuracy of their O(1) terms.
            assert_allclose(twin_p, p, rtol=RTOL, atol=1e-14,
                            err_msg=f"{case}: parameter, kernel vs update at t={opt.t}, "
                                    f"trial {trial}")
            for key in STATE_ORDER[cls]:
                if key in twin_state:
                    assert_allclose(twin_state[key], opt.state[0][key], rtol=RTOL, atol=1e-14,
                                    err_msg=f"{case}: state {key!r}, kernel vs update at "
                                            f"t={opt.t}, trial {trial}")


def test_update_is_one_step_in_place_on_2d_arrays(rng):
    # The NumPy method alone, called as a student would: 2-D arrays, self.t set.
    W = rng.standard_normal((3, 4))
    opt = Adam([W], lr=0.1, amsgrad=True)
    p, g = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    state = {"exp_avg": np.zeros((2, 5)), "exp_avg_sq": np.zeros((2, 5)),
             "max_exp_avg_sq": np.zeros((2, 5))}
    p0, g0 = p.copy(), g.copy()
    opt.t = 1
    opt.update(p, g, state)
    assert np.array_equal(g, g0), "update modified the gradient"
    # First Adam step: -lr * g / (|g| + eps / sqrt(1 - beta2)) ~ -lr * sign(g).
    assert_allclose(p - p0, -0.1 * np.sign(g0), rtol=1e-5)
    assert_allclose(state["exp_avg"], 0.1 * g0, rtol=1e-14)
    assert_allclose(state["max_exp_avg_sq"], state["exp_avg_sq"], rtol=0)


def test_amsgrad_propagates_nan_like_np_maximum():
    for impl in ("update", "kernel"):
        W = np.zeros((1, 2))
        opt = Adam([W], amsgrad=True)
        state = opt.state[0]
        state["exp_avg_sq"][0, 0] = np.nan
        G = np.ones((1, 2))
        if impl == "update":
            opt.step([G])
        else:
            opt.t = 1
            with np.errstate(invalid="ignore"):
                _kernel_step(opt, W, G, state, 1)
        assert np.isnan(state["max_exp_avg_sq"][0, 0]), f"{impl}: NaN did not reach vmax"
        assert np.isnan(W[0, 0]) and np.isfinite(W[0, 1]), impl


def test_weight_decay_zero_is_skipped_not_multiplied():
    # 0 * inf would be NaN: with weight_decay = 0 an infinite parameter must stay inf.
    for cls, options in [(SGD, dict(lr=0.1)), (Adam, {}), (AdaGrad, {}), (AdaDelta, {})]:
        W = np.ones((1, 2))
        opt = cls([W], **options)
        W[0, 0] = np.inf
        opt.step([np.ones((1, 2))])
        assert W[0, 0] == np.inf, f"{cls.__name__}: weight_decay=0 term touched an inf parameter"


# --- in-place updates and per-parameter state ---------------------------------

ALL = [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(amsgrad=True)), (AdaGrad, {}),
       (AdaDelta, {})]
STATE_KEYS = {SGD: {"momentum_buffer"}, Adam: {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
              AdaGrad: {"sum"}, AdaDelta: {"square_avg", "acc_delta"}}


@pytest.mark.parametrize("cls,options", ALL, ids=lambda x: getattr(x, "__name__", ""))
def test_step_updates_the_same_arrays_in_place(cls, options, rng):
    Ws = [rng.standard_normal((3, 2)), rng.standard_normal((4, 3))]
    before = [W.copy() for W in Ws]
    opt = cls(Ws, **options)
    assert all(a is b for a, b in zip(opt.params, Ws))
    opt.step([rng.standard_normal(W.shape) for W in Ws])
    assert all(a is b for a, b in zip(opt.params, Ws))
    for j, (W, W0) in enumerate(zip(Ws, before)):
        assert np.all(W != W0), f"{cls.__name__}: params[{j}] not updated in place"


@pytest.mark.parametrize("cls,options", ALL, ids=lambda x: getattr(x, "__name__", ""))
def test_state_is_per_parameter(cls, options, rng):
    Ws = [rng.standard_normal((3, 2)), rng.standard_normal((4, 3))]
    opt = cls(Ws, **options)
    assert len(opt.state) == 2
    for j, W in enumerate(Ws):
        assert set(opt.state[j]) == STATE_KEYS[cls], f"{cls.__name__}: state[{j}] keys"
        for key, arr in opt.state[j].items():
            assert arr.shape == W.shape and arr.dtype == np.float64, f"state[{j}][{key}]"
            assert not np.shares_memory(arr, W)
            for other in opt.state[1 - j].values():
                assert not np.shares_memory(arr, other), f"state[{j}][{key}] aliased"
    # Parameter 0 sees a zero gradient, parameter 1 a nonzero one: each
    # parameter's state must follow its own gradient only.
    G1 = rng.standard_normal(Ws[1].shape)
    for _ in range(2):
        opt.step([np.zeros(Ws[0].shape), G1])
    # With a zero gradient (and no weight decay) every state array of these
    # rules stays at its zero initial value; sharing state would break that.
    for key in opt.state[0]:
        assert np.all(opt.state[0][key] == 0), f"state[0][{key}] changed by params[1]'s gradient"
    for key in opt.state[1]:
        assert not np.all(opt.state[1][key] == 0), f"state[1][{key}] never updated"
    assert opt.t == 2


def test_state_initial_values():
    W = np.ones((2, 3))
    assert np.all(AdaGrad([W], initial_accumulator_value=0.7).state[0]["sum"] == 0.7)
    assert SGD([W], lr=0.1).state[0] == {}  # no buffer without momentum
    assert set(Adam([W]).state[0]) == {"exp_avg", "exp_avg_sq"}  # no vmax without amsgrad
    for opt in (SGD([W], lr=0.1, momentum=0.5), Adam([W], amsgrad=True), AdaDelta([W])):
        for key, arr in opt.state[0].items():
            assert np.all(arr == 0), f"{type(opt).__name__}: {key} not zero-initialised"


def test_amsgrad_vmax_is_monotone_and_bounds_v(rng):
    W = rng.standard_normal((3, 4))
    opt = Adam([W], lr=0.01, betas=(0.9, 0.9), amsgrad=True)
    previous = np.zeros_like(W)
    decreased = False
    for t in range(30):
        scale = 10.0 if t % 10 == 0 else 0.01  # bursts then calm: v goes down in between
        opt.step([scale * rng.standard_normal(W.shape)])
        st = opt.state[0]
        assert np.all(st["max_exp_avg_sq"] >= previous), f"vmax decreased at step {t + 1}"
        assert np.all(st["max_exp_avg_sq"] >= st["exp_avg_sq"]), f"vmax < v at step {t + 1}"
        decreased |= bool(np.any(st["max_exp_avg_sq"] > st["exp_avg_sq"]))
        previous = st["max_exp_avg_sq"].copy()
    assert decreased, "test data never made v drop below vmax"


def test_nonfinite_gradients_propagate_without_error():
    W = np.zeros((2, 2))
    for opt in (SGD([W], lr=0.1), Adam([W]), AdaGrad([W]), AdaDelta([W])):
        W[...] = 0.0
        G = np.zeros((2, 2))
        G[0, 1] = np.nan
        opt.step([G])
        assert np.isnan(W[0, 1]), type(opt).__name__
        assert np.all(np.isfinite(W[[0, 1, 1], [0, 0, 1]])), type(opt).__name__


def test_float32_gradients_are_accepted():
    W32, W64 = np.ones((2, 2)), np.ones((2, 2))
    G = np.array([[0.5, -0.25], [1.0, 2.0]], dtype=np.float32)
    SGD([W32], lr=0.1).step([G])
    SGD([W64], lr=0.1).step([G.astype(np.float64)])
    assert_allclose(W32, W64, rtol=0, atol=0, err_msg="float32 gradient not upcast exactly")


# --- factory ------------------------------------------------------------------

@pytest.mark.parametrize("name,cls", [("sgd", SGD), ("Adam", Adam), ("ADAGRAD", AdaGrad),
                                      ("AdaDelta", AdaDelta)])
def test_make_optimizer(name, cls):
    W = np.ones((2, 2))
    opt = make_optimizer(name, [W], lr=0.3)
    assert type(opt) is cls and opt.lr == 0.3 and opt.params[0] is W


def test_make_optimizer_rejects_unknown_name_and_option():
    W = np.ones((2, 2))
    with pytest.raises(ValueError, match="optimizer.*adadelta.*adagrad.*adam.*sgd"):
        make_optimizer("rmsprop", [W], lr=0.1)
    with pytest.raises(ValueError, match="betas"):
        make_optimizer("sgd", [W], lr=0.1, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="lr"):
        make_optimizer("sgd", [W])  # SGD has no default learning rate


# --- bad input ------------------------------------------------------------------

def _W():
    return np.ones((2, 3))


BAD_ARGS = [
    (SGD, dict(lr=0.0), "lr"), (SGD, dict(lr=-0.1), "lr"), (Adam, dict(lr=0), "lr"),
    (AdaGrad, dict(lr=-1.0), "lr"), (AdaDelta, dict(lr=0.0), "lr"),
    (SGD, dict(lr=np.nan), "lr"), (Adam, dict(lr="0.1"), "lr"),
    (SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=-0.1), "dampening"),
    (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov="yes"), "nesterov"),
    (SGD, dict(lr=0.1, weight_decay=-1e-3), "weight_decay"),
    (Adam, dict(weight_decay=-1.0), "weight_decay"),
    (AdaGrad, dict(weight_decay=-1.0), "weight_decay"),
    (AdaDelta, dict(weight_decay=-1.0), "weight_decay"),
    (Adam, dict(eps=-1e-8), "eps"), (AdaGrad, dict(eps=-1e-8), "eps"),
    (AdaDelta, dict(eps=-1e-8), "eps"),
    (Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"), (Adam, dict(betas=(-0.1, 0.999)), "betas"),
    (Adam, dict(betas=(0.9, 1.0)), r"betas\[1\]"), (Adam, dict(betas=(0.9,)), "betas"),
    (Adam, dict(betas=0.9), "betas"), (Adam, dict(amsgrad=1), "amsgrad"),
    (AdaGrad, dict(lr_decay=-0.1), "lr_decay"),
    (AdaGrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (AdaDelta, dict(rho=1.5), "rho"), (AdaDelta, dict(rho=-0.1), "rho"),
]


@pytest.mark.parametrize("cls,options,match", BAD_ARGS)
def test_bad_hyperparameters_raise(cls, options, match):
    with pytest.raises(ValueError, match=match):
        cls([_W()], **options)


def test_boundary_hyperparameters_are_accepted():
    Adam([_W()], betas=(0.0, 0.0), eps=0.0)
    AdaDelta([_W()], rho=0.0)
    AdaDelta([_W()], rho=1.0)
    SGD([_W()], lr=0.1, momentum=0.9, nesterov=True)


def _readonly():
    W = _W()
    W.flags.writeable = False
    return W


BAD_PARAMS = [
    ([], "params"), (_W(), "single array"), (None, "params"), ([_W().tolist()], "list"),
    ([_W().astype(np.float32)], "in place"), ([np.ones((2, 3), dtype=int)], "float"),
    ([np.ones(3)], "2-D"), ([np.ones((3, 2)).T], "in place"), ([np.ones((2, 6))[:, ::2]], "in place"),
    ([_readonly()], "writeable"), ([np.full((2, 2), np.nan)], "NaN"),
]


@pytest.mark.parametrize("params,match", BAD_PARAMS)
def test_bad_params_raise(params, match):
    with pytest.raises(ValueError, match=match):
        Adam(params)


def test_same_array_twice_is_refused():
    W = _W()
    with pytest.raises(ValueError, match=r"params\[1\].*twice"):
        AdaGrad([W, W])


BAD_GRADS = [
    ([], r"grads.*expected 2"), ([np.ones((2, 3))], r"grads.*expected 2"),
    ([np.ones((2, 3)), np.ones((3, 3))], r"grads\[1\].*shape"),
    ([np.ones((2, 3)), np.ones((4, 3), dtype=int)], r"grads\[1\].*float"),
    ([np.ones(6), np.ones((4, 3))], r"grads\[0\].*2-D"),
    ([np.ones((2, 3)), "g"], r"grads\[1\]"), (np.ones((2, 3)), "grads"), (3.0, "grads"),
]


@pytest.mark.parametrize("grads,match", BAD_GRADS)
def test_bad_grads_raise_and_leave_everything_untouched(grads, match):
    Ws = [np.ones((2, 3)), np.ones((4, 3))]
    opt = SGD(Ws, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=match):
        opt.step(grads)
    assert opt.t == 0
    assert all(np.all(W == 1.0) for W in Ws)
