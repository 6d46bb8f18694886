"""F ``attention_mil``: gated-attention multiple-instance learning with a Cox loss (layer 2).

Every patient is a bag of baseline lesions. A small network (Ilse, Tomczak & Welling 2018,
"Attention-based deep multiple instance learning", ICML, eq. 9) maps the bag to a risk:

    h_k = tanh(W_e x_k + b_e)                                  (lesion embedding)
    a_k = softmax_k( w' (tanh(V h_k) * sigmoid(U h_k)) )       (gated attention, per patient)
    z   = sum_k a_k h_k,   eta = beta' z                       (patient risk)

trained end-to-end on all patients in one batch by minimising

    -log PL(eta) / n + l2_penalty / 2 * (||W_e||^2 + ||beta||^2)
                     + l2_attention / 2 * (||V||^2 + ||U||^2 + ||w||^2)

(Cox log partial likelihood with Efron or Breslow ties; the bias ``b_e`` is not penalised)
with scipy's L-BFGS-B and analytic gradients (checked against finite differences in the
tests). Both penalties are on glmnet's scale (a ridge ``lambda / 2 ||.||^2`` added to the
MEAN negative log likelihood, the meaning of ``penalty`` in
:class:`~survrad.models.CoxModel`), so their strength does not grow with ``n``. Binary
endpoints use the logistic log likelihood of ``eta + b_0`` instead. Early
stopping (optional) holds out ``validation_fraction`` of the TRAINING patients (stratified
by event, grouped by original patient so that copies of a resampled patient stay on one
side) and keeps the parameters of the iteration with the best validation loss.

Why the attention layer has its own, smaller penalty: the attention logit is a product
``w' (tanh(V h) * sigmoid(U h))``, so near ``V = U = w = 0`` (uniform attention, i.e. mean
pooling) a ridge penalty ``lam`` on the factors acts like a lasso on the departure from
uniform attention. At that point the attention gradient is 0 and the Hessian of the
penalised loss in ``(w, V, U)`` has eigenvalues ``lam +- ||m||`` and ``lam``, with
``m = 1/2 sum_k (d nll / d s_k) h_k``: uniform attention is a local minimum whenever
``lam > ||m||`` (checked in the tests). On ``simulate_cohort(n_patients=300,
driver="worst")`` ``||m||`` is 0.02-0.03, so the former single ``l2 = 0.1`` held
``V, U, w`` at 0 and every weight at ``1 / n_lesions`` (to 5e-9). Defaults chosen on
simulated cohorts (5-fold cross-fitting, 400 patients, 5 seeds; worst-lesion driver):
``l2_penalty = 0.2, l2_attention = 0.01`` put the highest weight on the truly worst
lesion in 74 % of multi-lesion patients (chance 25 %; within-patient Spearman of the
weights with the true lesion score 0.78), against 55 % from numerical noise with the
former ``l2 = 0.1`` everywhere; the lesion score ``beta' h_k`` and the patient risk also
improved (Spearman with the true lesion score 0.87 -> 0.91; patient risk with the true
driver 0.75 -> 0.89 on 3 seeds). Lower penalties overfit (sharper but less correct
attention, more iterations).

Tried to make attention learn at 150-300 patients (5-fold cross-fitted attention weights,
3 seeds each, worst-lesion driver; share of multi-lesion patients whose highest weight is
on the truly worst lesion, chance 0.25-0.29): defaults 0.57-0.64 at 150 and 0.64-0.77 at
300 patients; starting from uniform attention (``w = 0``) gave the same; early stopping
0.58-0.68 and 0.65-0.73 (no better at 300); an attention penalty shrinking as
``kappa / sqrt(n)`` (a universal-threshold rule for the lasso-like dead zone above)
either let noise through at 60 patients (``kappa = 0.3``) or held the attention uniform at
300 (``kappa`` 0.3 and 1). None was kept: the defaults are unchanged.

Attention diagnostics (``attention_diagnostics_``, after every fit). Large weights alone do
not show that attention learned anything: at 60 patients the fitted weights depart from
``1 / n_lesions`` as much as at 300 (largest deviation 0.7-0.8), from noise. Two
quantities describe the weights on the training lesions, the mean entropy relative to
uniform (``H(a) / log n_lesions``, 1 = mean pooling) and the largest ``|a_k - 1/m|``, and a
score test asks whether they carry signal: the network is refitted with uniform attention
(``V = U = w = 0``, a stationary point of the attention block: mean pooling of the same
embedding), and the score statistic of adding ``d_i = mean_k (r_k - rbar_i)^2``, the
within-patient variance of the lesion risks ``r_k = beta' h_k`` of that fit, to its patient
risk is computed (1 df, efficient score given the scale of the mean-pooling risk; Cox or
logistic). To first order, attention ``s_k = gamma r_k`` towards the riskier lesions adds
``gamma d_i`` to the mean-pooling risk, so the test asks whether attending to the riskiest
lesions explains outcome beyond their mean. It ignores the estimation of the embedding
(an approximation). When ``p >= attention_alpha`` or every weight is within 1e-3 of
``1 / n_lesions``, :class:`~survrad.exceptions.AttentionUniformWarning` says "attention
did not depart from mean pooling; treat F as mean pooling". Measured
(``analyses/lesion_decisions``: fits on whole simulated cohorts, seeds 0-4,
``random_state = seed``): worst-lesion driver, the warning fired in 4 of 5 fits at 60
patients, 2 of 5 at 150 and 0 of 5 at 300 (p <= 0.005 in all five; there the 5-fold
cross-fitted attention put its highest weight on the truly worst lesion in 59-77 % of
multi-lesion patients, chance 25-27 %); mean-lesion driver (attention cannot help), it
fired in 9 of 10 fits at 150 and 300 patients (the tenth: p = 0.011).
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit

from survrad._math.coxph import CoxRiskSets
from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.exceptions import (
    AttentionUniformWarning,
    ConvergenceWarning,
    DataWarning,
    FitError,
    StatisticalWarning,
    SurvradDeprecationWarning,
    format_values,
)
from survrad.lesions._learned import (
    LesionMatrix,
    lesion_matrix,
    lesion_score_frame,
    patient_outcome,
)
from survrad.lesions.base import AggregationStrategy, resolve_features

__all__ = ["AttentionDiagnostics", "AttentionMIL"]

_NAME = "attention_mil"


# --------------------------------------------------------------------------- bags
@dataclasses.dataclass(frozen=True)
class _Bags:
    """Lesions sorted by patient: contiguous segments for ``reduceat``.

    ``X`` rows are sorted so that bag ``j``'s lesions are rows ``starts[j]`` to
    ``starts[j + 1] - 1``; ``seg`` is the bag of every sorted row; ``order`` maps sorted
    rows back to lesion-matrix rows; ``patient_pos`` is each bag's position in the
    cohort's patient order.
    """

    X: np.ndarray
    seg: np.ndarray
    starts: np.ndarray
    order: np.ndarray
    patient_pos: np.ndarray

    @property
    def n_bags(self) -> int:
        return int(self.starts.size)


def _make_bags(X: np.ndarray, codes: np.ndarray, keep: np.ndarray | None = None) -> _Bags:
    """Bags of the lesions of the patients in ``keep`` (all patients with lesions if None)."""
    order = np.argsort(codes, kind="stable")
    if keep is not None:
        order = order[np.isin(codes[order], keep)]
    sorted_codes = codes[order]
    new = np.ones(sorted_codes.size, dtype=bool)
    new[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.flatnonzero(new)
    return _Bags(X=X[order], seg=np.cumsum(new) - 1, starts=starts, order=order,
                 patient_pos=sorted_codes[starts])


# --------------------------------------------------------------------------- network
@dataclasses.dataclass(frozen=True)
class _Net:
    """Shapes of the network and the (un)packing of its flat parameter vector."""

    n_features: int
    n_hidden: int
    n_attention: int
    intercept: bool = False

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        p, h, a = self.n_features, self.n_hidden, self.n_attention
        out = {"W_e": (h, p), "b_e": (h,), "V": (a, h), "U": (a, h), "w": (a,), "beta": (h,)}
        if self.intercept:
            out["b_0"] = (1,)
        return out

    @property
    def size(self) -> int:
        return int(sum(np.prod(s) for s in self.shapes.values()))

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, i = {}, 0
        for name, shape in self.shapes.items():
            k = int(np.prod(shape))
            out[name] = theta[i:i + k].reshape(shape)
            i += k
        return out

    def pack(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(parts[n], dtype=np.float64).ravel()
                               for n in self.shapes])

    def penalty_weights(self, l2: float, l2_attention: float) -> np.ndarray:
        """Ridge weight of every entry of the flat parameter vector.

        ``l2_attention`` for the attention layer ``V, U, w``, ``l2`` for ``W_e`` and
        ``beta``, 0 for the biases ``b_e`` and ``b_0``.
        """
        def weight(name: str) -> float:
            if name in ("b_e", "b_0"):
                return 0.0
            return l2_attention if name in ("V", "U", "w") else l2
        return self.pack({n: np.full(s, weight(n)) for n, s in self.shapes.items()})

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Glorot-style normal initialisation; biases at 0."""
        parts = {}
        for name, shape in self.shapes.items():
            if name in ("b_e", "b_0"):
                parts[name] = np.zeros(shape)
            else:
                fan = shape[-1] + (shape[0] if len(shape) == 2 else 1)
                parts[name] = rng.normal(0.0, np.sqrt(2.0 / fan), size=shape)
        return self.pack(parts)


def _forward(net: _Net, theta: np.ndarray, bags: _Bags) -> dict[str, np.ndarray]:
    """Lesion embeddings, attention, patient embeddings and risks of every bag."""
    P = net.unpack(theta)
    H = np.tanh(bags.X @ P["W_e"].T + P["b_e"])
    G1 = np.tanh(H @ P["V"].T)
    G2 = expit(H @ P["U"].T)
    s = (G1 * G2) @ P["w"]
    m = np.maximum.reduceat(s, bags.starts)
    e = np.exp(s - m[bags.seg])
    a = e / np.add.reduceat(e, bags.starts)[bags.seg]
    z = np.add.reduceat(a[:, None] * H, bags.starts, axis=0)
    eta = z @ P["beta"]
    return {"P": P, "H": H, "G1": G1, "G2": G2, "s": s, "a": a, "z": z, "eta": eta}


def _backward(net: _Net, f: dict[str, np.ndarray], bags: _Bags,
              g_eta: np.ndarray) -> dict[str, np.ndarray]:
    """Gradient of a loss with respect to every parameter, given ``d loss / d eta``."""
    P, H, G1, G2, a = f["P"], f["H"], f["G1"], f["G2"], f["a"]
    grads = {"beta": f["z"].T @ g_eta}
    dzk = np.outer(g_eta, P["beta"])[bags.seg]                 # dL/dz of each lesion's bag
    da = np.einsum("ij,ij->i", dzk, H)
    ds = a * (da - np.add.reduceat(a * da, bags.starts)[bags.seg])   # segment softmax
    grads["w"] = (G1 * G2).T @ ds
    dG = np.outer(ds, P["w"])
    dP1 = dG * G2 * (1.0 - G1 * G1)
    dP2 = dG * G1 * G2 * (1.0 - G2)
    grads["V"] = dP1.T @ H
    grads["U"] = dP2.T @ H
    dH = a[:, None] * dzk + dP1 @ P["V"] + dP2 @ P["U"]
    dpre = dH * (1.0 - H * H)
    grads["W_e"] = dpre.T @ bags.X
    grads["b_e"] = dpre.sum(axis=0)
    return grads


class _Loss:
    """Penalised mean negative log likelihood of the network on one set of bags."""

    def __init__(self, net: _Net, bags: _Bags, outcome: tuple, l2: float, ties: str,
                 l2_attention: float | None = None) -> None:
        """``l2_attention=None`` penalises the attention layer like the rest (``l2``)."""
        self.net, self.bags = net, bags
        self.kind = outcome[0]
        pos = bags.patient_pos
        if self.kind == "survival":
            self.rs = CoxRiskSets(outcome[1][pos], outcome[2][pos], ties=ties)
        else:
            self.target = outcome[1][pos].astype(np.float64)
        self.penalty = net.penalty_weights(l2, l2 if l2_attention is None else l2_attention)

    def nll_grad_eta(self, eta: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray,
                                                                          float]:
        """Mean negative log likelihood, its gradient in eta, and in the intercept."""
        n = eta.size
        if self.kind == "survival":
            ll, g = self.rs.loglik_grad(eta)
            return -ll / n, -g / n, 0.0
        lin = eta + self.net.unpack(theta)["b_0"][0]
        p = expit(lin)
        ll = float(np.sum(self.target * lin - np.logaddexp(0.0, lin)))
        r = (p - self.target) / n
        return -ll / n, r, float(r.sum())

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        f = _forward(self.net, theta, self.bags)
        nll, g_eta, g_b0 = self.nll_grad_eta(f["eta"], theta)
        grads = _backward(self.net, f, self.bags, g_eta)
        if self.net.intercept:
            grads["b_0"] = np.array([g_b0])
        pen = self.penalty * theta
        loss = nll + 0.5 * float(pen @ theta)
        return loss, self.net.pack(grads) + pen

    def nll(self, theta: np.ndarray) -> float:
        """Unpenalised mean negative log likelihood (the validation criterion)."""
        return self.nll_grad_eta(_forward(self.net, theta, self.bags)["eta"], theta)[0]


# --------------------------------------------------------------------------- splitting
def _inner_split(label: np.ndarray, groups: np.ndarray, fraction: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions of (train, validation) bags, stratified by ``label`` (event or target).

    ``groups`` is the original patient of every bag: all copies of a patient drawn several
    times by a bootstrap (same original id, same outcome) go to the same side, so the
    validation loss is never computed on a copy of a training patient. ``fraction`` is
    the share of GROUPS held out in each label stratum. With distinct groups the split is
    the plain stratified split of the bags.
    """
    codes, _ = pd.factorize(groups)
    first = np.unique(codes, return_index=True)[1]       # first bag of every group
    group_label = label[first]
    train, val = [], []
    for value in (0, 1):
        pos = rng.permutation(np.flatnonzero(group_label == value))
        k = round(fraction * pos.size)
        k = min(max(k, 1), pos.size - 1) if pos.size >= 2 else 0
        val.append(pos[:k])
        train.append(pos[k:])
    in_val = np.isin(codes, np.concatenate(val))
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


class _EarlyStop:
    """L-BFGS callback: remember the parameters with the best validation loss."""

    def __init__(self, val: _Loss | None, patience: int) -> None:
        self.val, self.patience = val, patience
        self.best_loss, self.best_theta, self.best_iter = np.inf, None, 0
        self.iteration = 0
        self.val_curve: list[float] = []
        self.stopped = False

    def start(self, theta: np.ndarray) -> None:
        if self.val is not None:
            self.best_loss = self.val.nll(theta)
            self.best_theta = theta.copy()

    def __call__(self, intermediate_result: Any) -> None:
        self.iteration += 1
        if self.val is None:
            return
        theta = np.asarray(intermediate_result.x, dtype=np.float64)
        loss = self.val.nll(theta)
        self.val_curve.append(loss)
        if loss < self.best_loss:
            self.best_loss, self.best_theta, self.best_iter = loss, theta.copy(), self.iteration
        elif self.iteration - self.best_iter >= self.patience:
            self.stopped = True
            raise StopIteration


# --------------------------------------------------------------------------- diagnostics
#: a weight within this of 1 / n_lesions counts as uniform (mean pooling)
UNIFORM_TOL = 1e-3


@dataclasses.dataclass(frozen=True)
class AttentionDiagnostics:
    """Did the attention of a fitted :class:`AttentionMIL` depart from mean pooling?

    Computed on the training lesions of the fit (see the module docstring).

    Attributes
    ----------
    n_patients : int
        Training patients with at least two lesions (the only ones whose attention can
        differ from 1).
    entropy_ratio : float
        Mean over those patients of ``H(a) / log(n_lesions)``: 1 = uniform weights (mean
        pooling), 0 = all weight on one lesion.
    max_deviation : float
        Largest ``|a_k - 1 / n_lesions|`` over the training lesions.
    score_statistic, p_value : float
        Score test (1 df) of attention towards the riskiest lesions against mean pooling
        (NaN without multi-lesion patients).
    alpha : float
        The level used (``attention_alpha``).
    departed : bool
        ``p_value < alpha`` and ``max_deviation >= 1e-3``; False triggers
        :class:`~survrad.exceptions.AttentionUniformWarning`.
    """

    n_patients: int
    entropy_ratio: float
    max_deviation: float
    score_statistic: float
    p_value: float
    alpha: float
    departed: bool

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([dataclasses.asdict(self)])


def _weight_spread(bags: _Bags, a: np.ndarray) -> tuple[int, float, float]:
    """(multi-lesion bags, mean entropy ratio, largest |a - 1/m|) of attention ``a``."""
    sizes = np.diff(np.append(bags.starts, bags.seg.size))
    multi = sizes >= 2
    if not multi.any():
        return 0, 1.0, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(a > 0, a * np.log(a), 0.0)
    entropy = -np.add.reduceat(plogp, bags.starts)
    ratio = entropy[multi] / np.log(sizes[multi])
    deviation = np.abs(a - 1.0 / sizes[bags.seg])
    return int(multi.sum()), float(ratio.mean()), float(deviation.max())


def _score_test(net: _Net, f: dict[str, np.ndarray], bags: _Bags, outcome: tuple,
                theta: np.ndarray, ties: str) -> tuple[float, float]:
    """1-df score test of ``d_i`` (within-patient variance of lesion risks) added to the
    mean-pooling risk ``eta0`` of the fit ``f``; returns (statistic, p-value)."""
    P = net.unpack(theta)
    r = f["H"] @ P["beta"]
    eta0 = f["eta"]
    sizes = np.diff(np.append(bags.starts, bags.seg.size))
    d = np.add.reduceat((r - eta0[bags.seg]) ** 2, bags.starts) / sizes
    if not (sizes >= 2).any() or np.ptp(d) <= 0:
        return np.nan, np.nan
    pos = bags.patient_pos
    if outcome[0] == "survival":
        rs = CoxRiskSets(outcome[1][pos], outcome[2][pos], ties=ties)
        Z = np.column_stack([eta0, d])
        Z -= Z.mean(axis=0)
        _, U, info = rs.derivatives(Z, np.array([1.0, 0.0]))
    else:
        y = outcome[1][pos].astype(np.float64)
        prob = expit(eta0 + P["b_0"][0])
        Z = np.column_stack([np.ones(eta0.size), eta0, d])
        U = Z.T @ (y - prob)
        info = (Z * (prob * (1.0 - prob))[:, None]).T @ Z
    nuis = slice(0, info.shape[0] - 1)
    try:
        proj = np.linalg.solve(info[nuis, nuis], info[nuis, -1])
    except np.linalg.LinAlgError:
        return np.nan, np.nan
    u_eff = U[-1] - proj @ U[nuis]
    i_eff = info[-1, -1] - proj @ info[nuis, -1]
    if not i_eff > 0:
        return np.nan, np.nan
    stat = float(u_eff**2 / i_eff)
    return stat, float(stats.chi2.sf(stat, 1))


# --------------------------------------------------------------------------- strategy
class AttentionMIL(AggregationStrategy):
    """F ``attention_mil``: gated attention pooling trained with the Cox partial likelihood.

    Parameters
    ----------
    n_hidden : int, default 8
        Size of the lesion embedding ``h`` (and of the patient embedding ``z``).
    n_attention : int, default 8
        Size of the gated attention layer (``V`` and ``U`` rows).
    l2_penalty : float, default 0.2
        Ridge penalty on the embedding and output weights ``W_e`` and ``beta`` (not on the
        embedding bias), on glmnet's scale: added as ``l2_penalty / 2 * ||.||^2`` to the
        MEAN negative log partial likelihood, so its strength does not grow with ``n``.
        It is the main guard against overfitting: too large a value shrinks the whole
        network to zero (constant risk, a warning is raised), too small overfits.
    l2_attention : float, default 0.01
        Ridge penalty on the attention layer ``V, U, w``, same scale. Keep it well below
        ``l2_penalty``: the attention logit is a product of these weights, so a penalty
        above the strength of the lesion-level signal sets them exactly to 0 and the
        attention to ``1 / n_lesions`` (mean pooling; see the module docstring). ``None``
        uses ``l2_penalty``.
    ties : {"efron", "breslow"}, default "efron"
        Tie handling of the Cox partial likelihood.
    max_iter : int, default 500
        Maximum number of L-BFGS-B iterations.
    tol : float, default 1e-6
        Convergence tolerance: L-BFGS-B stops when an iteration lowers the penalised loss
        by less than ``tol`` relative to it (scipy's ``ftol``). Measured on simulated
        cohorts of 100-300 patients, the scipy default (2.2e-9) took twice the iterations
        for lesion and patient risks equal to 3 decimals.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training patients (stratified by event;
        copies of a resampled patient, see ``Cohort.original_ids``, stay together) and
        keep the parameters of the iteration with the lowest validation loss; training
        stops after ``n_iter_no_change`` iterations without improvement. Off by default:
        on simulated cohorts the fully converged ridge-penalised fit recovered lesion
        risks better and more stably (see the tests).
    validation_fraction : float, default 0.2
        Share of the training patients held out when ``early_stopping`` is on.
    n_iter_no_change : int, default 20
        Iterations without a lower validation loss before ``early_stopping`` stops.
    return_embedding : bool, default False
        Also output the patient embedding ``z`` as columns ``attention_mil__z1`` ...
    features : list of str, optional
        Lesion features (names or globs); default ``cohort.lesion_features``. They are
        standardised on the training lesions.
    random_state : None, int or numpy.random.Generator
        Seeds the initial weights and the inner split.
    attention_alpha : float, default 0.05
        Level of the score test of the attention diagnostics: with ``p >= attention_alpha``
        (or weights all within 1e-3 of uniform) the fit warns that the attention did not
        depart from mean pooling (module docstring). The test refits the network with
        uniform attention (about one more fit).
    l2 : float, optional
        Deprecated name of ``l2_penalty`` (same meaning), accepted for one release with a
        :class:`~survrad.exceptions.SurvradDeprecationWarning`.

    Attributes
    ----------
    features_ : list of str
    params_ : dict of str to ndarray
        Fitted weights ``W_e, b_e, V, U, w, beta`` (and ``b_0`` for a binary endpoint).
    n_iter_ : int
        L-BFGS iterations run; ``best_iter_`` the iteration kept.
    validation_loss_ : list of float
        Validation loss after every iteration (empty without early stopping).
    attention_diagnostics_ : AttentionDiagnostics
        Entropy of the attention relative to uniform, its largest deviation from
        ``1 / n_lesions`` and the score test against mean pooling, on the training lesions.
    attention_ : pandas.DataFrame
        ``patient_id, lesion_id, attention`` of the last cohort transformed.

    Notes
    -----
    ``transform`` gives ``attention_mil__risk`` = ``eta`` (higher = riskier).
    ``lesion_scores`` gives, per baseline lesion, ``score`` = ``beta^T h_k`` (the risk the
    patient would have if this were its only lesion), ``attention`` = ``a_k`` and
    ``attention_logit`` (``a_k`` before the per-patient softmax, comparable across
    patients).
    Patients without baseline lesions are left out of training (with a warning) and get
    the training-cohort mean of every output column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.cohort import Cohort, Endpoint
    >>> rng = np.random.default_rng(0)
    >>> ids = pd.Index([f"P{i}" for i in range(60)], name="patient_id")
    >>> x = rng.normal(size=(60, 2))                      # two lesions per patient
    >>> t = rng.exponential(np.exp(-1.5 * x.max(axis=1)))  # the worst lesion drives OS
    >>> pat = pd.DataFrame({"t": t, "e": 1}, index=ids)
    >>> les = pd.DataFrame({"patient_id": np.repeat(ids, 2), "lesion_id": ["L1", "L2"] * 60,
    ...                     "rad_a": x.ravel()})
    >>> c = Cohort(pat, les, lesion_features=("rad_a",),
    ...            endpoints={"os": Endpoint("os", "survival", time="t", event="e")})
    >>> m = AttentionMIL(random_state=0).fit(c, "os")
    >>> m.transform(c).shape
    (60, 1)
    >>> bool(m.attention_.groupby("patient_id")["attention"].sum().round(12).eq(1).all())
    True
    """

    requires_outcome = True

    def __init__(self, n_hidden: int = 8, n_attention: int = 8, l2_penalty: float = 0.2,
                 l2_attention: float | None = 0.01, ties: str = "efron", max_iter: int = 500,
                 tol: float = 1e-6, early_stopping: bool = False, validation_fraction: float = 0.2,
                 n_iter_no_change: int = 20, return_embedding: bool = False,
                 features: Sequence[str] | None = None, random_state: Any = None,
                 attention_alpha: float = 0.05, l2: float | None = None) -> None:
        self.n_hidden = n_hidden
        self.n_attention = n_attention
        self.l2_penalty = l2_penalty
        self.l2_attention = l2_attention
        self.ties = ties
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.return_embedding = return_embedding
        self.features = features
        self.random_state = random_state
        self.attention_alpha = attention_alpha
        self.l2 = l2

    # ------------------------------------------------------------------ fit
    def fit(self, cohort: Cohort, endpoint: str | None = None) -> AttentionMIL:
        """Learn the network on the training cohort's lesions and ``endpoint``."""
        self._check_params()
        self.l2_penalty_ = self._l2()
        self.l2_attention_ = (self.l2_penalty_ if self.l2_attention is None
                              else float(self.l2_attention))
        rng = check_random_state(self.random_state)
        outcome = patient_outcome(cohort, endpoint, type(self).__name__)
        self.features_ = resolve_features(cohort, self.features)
        lm = lesion_matrix(cohort, self.features_)
        X = self._standardise_fit(lm.X)
        bags = _make_bags(X, lm.codes)
        self._warn_dropped(lm)
        net = _Net(X.shape[1], self.n_hidden, self.n_attention,
                   intercept=outcome[0] == "binary")
        label = (outcome[2] if outcome[0] == "survival" else outcome[1])[bags.patient_pos]
        origin = np.asarray(cohort.patient_ids if cohort.original_ids is None
                            else cohort.original_ids, dtype=object)[bags.patient_pos]
        theta0 = net.init(rng)
        theta = self._optimise(net, bags, outcome, label.astype(int), origin, rng, theta0)
        self.params_ = {k: v.copy() for k, v in net.unpack(theta).items()}
        self.endpoint_kind_ = outcome[0]
        f = _forward(net, theta, bags)
        constant = self._warn_constant(f["eta"])
        self.attention_diagnostics_ = self._diagnose(net, bags, outcome, f, theta0)
        if not constant:
            self._warn_uniform()
        super().fit(cohort, endpoint)  # output names and fill values (base fill rule)
        return self

    def _l2(self) -> float:
        """``l2_penalty``, or the deprecated ``l2`` when given."""
        if self.l2 is None:
            return float(self.l2_penalty)
        warnings.warn("AttentionMIL(l2=...) is deprecated and will be removed in the next "
                      "release: use l2_penalty (same meaning).", SurvradDeprecationWarning,
                      stacklevel=4)
        return float(self.l2)

    def _warn_constant(self, eta: np.ndarray) -> bool:
        if np.ptp(eta) <= 1e-6:
            warnings.warn(f"AttentionMIL: the fitted network gives (almost) the same risk "
                          f"to every training patient (range {np.ptp(eta):.2g}); the "
                          f"l2_penalty ({self.l2_penalty_}) is too strong for the signal: "
                          "lower it.", StatisticalWarning, stacklevel=3)
            return True
        return False

    def _diagnose(self, net: _Net, bags: _Bags, outcome: tuple, f: dict[str, np.ndarray],
                  theta0: np.ndarray) -> AttentionDiagnostics:
        """Entropy, largest deviation and the score test against mean pooling."""
        n_multi, entropy, deviation = _weight_spread(bags, f["a"])
        stat, p = np.nan, np.nan
        if n_multi:
            P = net.unpack(theta0.copy())
            for name in ("V", "U", "w"):
                P[name][...] = 0.0     # uniform attention: a stationary point of V, U, w
            loss = _Loss(net, bags, outcome, self.l2_penalty_, self.ties,
                         self.l2_attention_)
            res = minimize(loss, net.pack(P), jac=True, method="L-BFGS-B",
                           options={"maxiter": self.max_iter, "maxfun": 4 * self.max_iter,
                                    "ftol": float(self.tol)})
            null = np.asarray(res.x, dtype=np.float64)
            stat, p = _score_test(net, _forward(net, null, bags), bags, outcome, null,
                                  self.ties)
        alpha = float(self.attention_alpha)
        departed = bool(np.isfinite(p) and p < alpha and deviation >= UNIFORM_TOL)
        return AttentionDiagnostics(n_patients=n_multi, entropy_ratio=entropy,
                                    max_deviation=deviation, score_statistic=stat,
                                    p_value=p, alpha=alpha, departed=departed)

    def _warn_uniform(self) -> None:
        d = self.attention_diagnostics_
        if d.departed:
            return
        if d.n_patients == 0:
            why = "no training patient has two or more lesions"
        elif d.max_deviation < UNIFORM_TOL:
            why = (f"every weight is within {UNIFORM_TOL:g} of 1 / n_lesions"
                   + (f" although the score test finds signal (p = {d.p_value:.2g}): lower "
                      "l2_attention" if d.p_value < d.alpha else ""))
        else:
            why = (f"score test of attention towards the riskiest lesions p = "
                   f"{d.p_value:.2g} >= {d.alpha:g} on {d.n_patients} multi-lesion training "
                   f"patients; the weights depart from 1 / n_lesions by up to "
                   f"{d.max_deviation:.2g} (entropy {d.entropy_ratio:.2f} of uniform's), "
                   "a departure the test does not tell from noise")
        warnings.warn(f"AttentionMIL: attention did not depart from mean pooling; treat F as "
                      f"mean pooling ({why}). Its attention weights are no learned lesion "
                      "importance.", AttentionUniformWarning, stacklevel=3)

    def _check_params(self) -> None:
        check_int("n_hidden", self.n_hidden, min_value=1)
        check_int("n_attention", self.n_attention, min_value=1)
        check_int("max_iter", self.max_iter, min_value=1)
        check_int("n_iter_no_change", self.n_iter_no_change, min_value=1)
        check_choice("ties", self.ties, ("efron", "breslow"))
        check_fraction("validation_fraction", self.validation_fraction)
        check_fraction("attention_alpha", self.attention_alpha)
        for name in ("l2_penalty", "l2_attention", "tol", "l2"):
            value = getattr(self, name)
            if value is None and name in ("l2_attention", "l2"):
                continue
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not (np.isfinite(value) and value >= 0)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")

    def _standardise_fit(self, X: np.ndarray) -> np.ndarray:
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        const = sd <= 1e-12 * np.maximum(1.0, np.abs(self.mean_))
        if const.all():
            raise FitError("every lesion feature is constant in the training cohort; the "
                           "attention model has nothing to learn from.",
                           columns=list(self.features_))
        self.scale_ = np.where(const, 1.0, sd)
        return (X - self.mean_) / self.scale_

    @staticmethod
    def _warn_dropped(lm: LesionMatrix) -> None:
        empty = lm.lesion_counts == 0
        if empty.any():
            warnings.warn(
                f"AttentionMIL: {format_values(list(lm.patient_ids[empty]))} training "
                "patients have no baseline lesion and are left out of the attention "
                "model's likelihood.", DataWarning, stacklevel=3)

    def _optimise(self, net: _Net, bags: _Bags, outcome: tuple, label: np.ndarray,
                  origin: np.ndarray, rng: np.random.Generator,
                  theta0: np.ndarray) -> np.ndarray:
        val_loss = None
        train_bags = bags
        if self.early_stopping:
            tr, va = _inner_split(label, origin, self.validation_fraction, rng)
            if label[tr].sum() < 2 or label[va].sum() < 1:
                raise FitError("too few events to hold out a validation set for early "
                               "stopping; use early_stopping=False or more patients.")
            train_bags = _subset_bags(bags, tr)
            val_loss = _Loss(net, _subset_bags(bags, va), outcome, 0.0, self.ties)
        loss = _Loss(net, train_bags, outcome, self.l2_penalty_, self.ties, self.l2_attention_)
        stop = _EarlyStop(val_loss, self.n_iter_no_change)
        stop.start(theta0)
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B", callback=stop,
                       options={"maxiter": self.max_iter, "maxfun": 4 * self.max_iter,
                                "ftol": float(self.tol)})
        self.n_iter_ = int(stop.iteration)
        self.validation_loss_ = list(stop.val_curve)
        if stop.best_theta is not None:
            self.best_iter_ = int(stop.best_iter)
            theta = stop.best_theta
        else:
            self.best_iter_ = self.n_iter_
            theta = np.asarray(res.x, dtype=np.float64)
        self.converged_ = bool(res.success or stop.stopped)
        if not self.converged_:
            warnings.warn(f"AttentionMIL: L-BFGS-B stopped without converging after "
                          f"{self.n_iter_} iterations ({res.message}); raise max_iter or "
                          "use early stopping.", ConvergenceWarning, stacklevel=3)
        if not np.all(np.isfinite(theta)):
            raise FitError("the attention model diverged (non-finite weights); increase "
                           "l2_penalty.")
        return theta

    # ------------------------------------------------------------ transform
    def _net(self) -> _Net:
        return _Net(len(self.features_), self.n_hidden, self.n_attention,
                    intercept="b_0" in self.params_)

    def _run(self, cohort: Cohort) -> tuple[LesionMatrix, _Bags, dict[str, np.ndarray]]:
        lm = lesion_matrix(cohort, self.features_)
        bags = _make_bags((lm.X - self.mean_) / self.scale_, lm.codes)
        net = self._net()
        return lm, bags, _forward(net, net.pack(self.params_), bags)

    def _patient_values(self, lm: LesionMatrix, bags: _Bags,
                        f: dict[str, np.ndarray]) -> pd.DataFrame:
        """Patient outputs; NaN for patients without baseline lesions."""
        cols, names = [f["eta"][:, None]], [f"{_NAME}__risk"]
        if self.return_embedding:
            cols.append(f["z"])
            names += [f"{_NAME}__z{j + 1}" for j in range(self.n_hidden)]
        values = np.full((lm.n_patients, len(names)), np.nan)
        values[bags.patient_pos] = np.hstack(cols)
        return pd.DataFrame(values, index=lm.patient_ids, columns=names)

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        lm, bags, f = self._run(cohort)
        self.attention_ = self._lesion_frame(lm, cohort, bags, f)[
            ["patient_id", "lesion_id", "attention"]]
        return self._patient_values(lm, bags, f)

    def _lesion_frame(self, lm: LesionMatrix, cohort: Cohort, bags: _Bags,
                      f: dict[str, np.ndarray]) -> pd.DataFrame:
        risk, att, logit = (np.empty(bags.order.size) for _ in range(3))
        risk[bags.order] = f["H"] @ self.params_["beta"]
        att[bags.order] = f["a"]
        logit[bags.order] = f["s"]
        return lesion_score_frame(lm, cohort, risk, attention=att, attention_logit=logit)

    def lesion_scores(self, cohort: Cohort) -> pd.DataFrame:
        """Per baseline lesion: its risk score and its attention weight.

        Returns
        -------
        pandas.DataFrame
            Columns ``patient_id, lesion_id, score, attention, attention_logit``, in the
            cohort's lesion order. ``score`` = ``beta^T h_k`` (higher = riskier: the risk
            of the patient if this were its only lesion); ``attention`` = ``a_k`` (sums to
            1 within a patient); ``attention_logit`` = ``w^T (tanh(V h_k) *
            sigmoid(U h_k))``, the attention before the per-patient softmax: it depends on
            the lesion only, so unlike ``attention`` it can be compared across patients
            with different numbers of lesions.
        """
        self._check_fitted()
        lm, bags, f = self._run(cohort)
        return self._lesion_frame(lm, cohort, bags, f)


def _subset_bags(bags: _Bags, keep: np.ndarray) -> _Bags:
    """The bags at positions ``keep`` (sorted), re-indexed contiguously."""
    sizes = np.diff(np.append(bags.starts, bags.seg.size))
    rows = np.flatnonzero(np.isin(bags.seg, keep))
    new_sizes = sizes[keep]
    starts = np.concatenate(([0], np.cumsum(new_sizes)[:-1]))
    return _Bags(X=bags.X[rows], seg=np.repeat(np.arange(keep.size), new_sizes),
                 starts=starts, order=bags.order[rows], patient_pos=bags.patient_pos[keep])
