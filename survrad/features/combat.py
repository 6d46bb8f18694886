"""ComBat harmonisation of feature batches (centres, scanners), learned on training rows.

The location/scale model of Johnson, Li and Rabinovic (2007), as implemented for imaging
features by Fortin et al. (2018, ``neuroCombat``)::

    y_ig = alpha_g + x_i' beta_g + gamma_{b(i) g} + sqrt(delta_{b(i) g}) * e_ig

for row ``i`` in batch ``b(i)`` and feature ``g``. ``alpha_g`` is the grand mean (the
batch intercepts weighted by batch size), ``x_i`` the protected covariates (their effect
is kept), ``gamma`` and ``delta`` the additive and multiplicative batch effects, shrunk
towards their across-feature means by empirical Bayes. The harmonised value is::

    y*_ig = (z_ig - gamma*_bg) / sqrt(delta*_bg) * sigma_g + alpha_g + x_i' beta_g,
    z_ig  = (y_ig - alpha_g - x_i' beta_g) / sigma_g.

Everything is estimated on the training rows; ``transform`` applies the stored estimates
to any rows (each row on its own), so a held-out patient never influences the estimates.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_int
from survrad.exceptions import ConvergenceWarning, FitError, SchemaError, format_values
from survrad.features._base import FeatureStep, check_frame, checked_values

__all__ = ["ComBat"]

_CONV = 1e-4  # stopping rule of sva::ComBat and neuroCombat (relative change)
#: What ``ComBat.transform`` does with a batch absent from the training rows.
UNSEEN_RULES = ("error", "reference")


class ComBat(FeatureStep):
    """Empirical-Bayes batch harmonisation (ComBat) learned on the training rows.

    Parameters
    ----------
    batch_col : str, default "center"
        Column of ``X`` holding the batch (centre, scanner). It is used to harmonise and is
        NOT in the output.
    covariates : sequence of str, default ()
        Columns of ``X`` whose effects are protected (kept in the design so harmonisation
        does not remove them), e.g. ``("age", "stage")``. Numeric columns enter linearly;
        non-numeric, boolean and categorical columns are one-hot encoded (first level
        dropped). They are returned unchanged in the output.
    parametric : bool, default True
        Parametric empirical-Bayes priors (normal for gamma, inverse gamma for delta);
        ``False`` uses the non-parametric priors of Johnson et al. (slower: it weighs every
        feature against all others).
    eb : bool, default True
        Empirical-Bayes shrinkage. ``False`` gives the plain location/scale adjustment with
        the per-batch estimates ``gamma_hat``, ``delta_hat``.
    max_iter : int, default 1000
        Bound on the parametric EB iterations (which stop, as in ``sva::ComBat`` and
        ``neuroCombat``, when the largest relative change is below 1e-4).
    unseen : {"error", "reference"}, default "error"
        What ``transform`` does with rows of a batch absent from the training rows (a new
        centre in external validation). ``"error"``: a :class:`SchemaError` naming the
        column, the batch values and the row ids. ``"reference"``: the new batch is
        harmonised to the training reference (grand mean, pooled variance and covariate
        effects learned in ``fit``) with ITS OWN location and scale, estimated from the
        features of its rows in the ``transform`` call (never from outcomes): the rows are
        standardised with the training estimates, the batch's ``gamma_hat`` and
        ``delta_hat`` are the mean and variance (ddof=1) of each standardised feature over
        its rows, shrunk by the same empirical Bayes as in ``fit`` (unless ``eb=False``),
        and removed. So a new batch's output depends on the other rows of that batch
        given together (at least 2 rows per new batch; harmonise the whole new centre in
        one call). Seen batches always use the training estimates.

    Attributes
    ----------
    feature_columns_ : list
        Columns harmonised: every column of ``X`` other than ``batch_col`` and the
        covariates.
    batches_ : list
        Batch values seen in training (sorted).
    batch_sizes_ : pandas.Series
        Training rows per batch.
    grand_mean_, var_pooled_ : pandas.Series
        ``alpha_g`` and ``sigma_g**2`` (pooled residual variance, divided by n).
    covariate_effects_ : pandas.DataFrame
        ``beta`` (design columns x features); empty when there are no covariates.
    gamma_hat_, delta_hat_, gamma_star_, delta_star_ : pandas.DataFrame
        Batch effects (batches x features) before and after shrinkage, on the standardised
        scale.
    n_iter_ : dict
        Parametric EB iterations used per batch.
    feature_names_out_ : numpy.ndarray
        Output columns: the columns of ``X`` in order, without ``batch_col``.

    Raises
    ------
    SchemaError
        At transform, a row whose batch (with ``unseen="error"``) or categorical covariate
        level was not in the training rows; the message lists the values and row ids. A
        new batch of a single row with ``unseen="reference"``.
    FitError
        A batch with a single training row, a covariate confounded with batch, a feature
        with zero residual variance, or empirical Bayes with fewer than 2 features.

    Notes
    -----
    Rows are harmonised towards the grand mean of the training batches (no reference
    batch). For the training rows the output equals ``neuroCombat(...)["data"]`` (checked
    in the tests to 1e-6), including its stopping rule, which compares the relative change
    ``|new - old| / old`` without absolute value in the denominator, as ``sva::ComBat``
    does. Unlike ``neuroCombatFromTraining``, new rows keep their own covariate effects.

    References
    ----------
    Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray expression data
    using empirical Bayes methods. Biostatistics 2007;8:118-127.
    Fortin J-P et al. Harmonization of cortical thickness measurements across scanners and
    sites. NeuroImage 2018;167:104-120.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["f1", "f2", "f3"])
    >>> X["center"] = np.repeat(["A", "B"], 20)
    >>> X.loc[X.center == "B", ["f1", "f2", "f3"]] += 5.0
    >>> out = ComBat(batch_col="center").fit_transform(X)
    >>> list(out.columns)
    ['f1', 'f2', 'f3']
    >>> bool(abs(out.f1[X.center == "A"].mean() - out.f1[X.center == "B"].mean()) < 0.5)
    True
    """

    def __init__(self, batch_col: str = "center", covariates: Sequence[str] = (),
                 parametric: bool = True, eb: bool = True, max_iter: int = 1000,
                 unseen: str = "error") -> None:
        self.batch_col = batch_col
        self.covariates = covariates
        self.parametric = parametric
        self.eb = eb
        self.max_iter = max_iter
        self.unseen = unseen

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if not isinstance(self.batch_col, str) or not self.batch_col:
            raise ValueError(f"batch_col must be a column name, got {self.batch_col!r}.")
        for name in ("parametric", "eb"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        check_int("max_iter", self.max_iter, min_value=1)
        check_choice("unseen", self.unseen, UNSEEN_RULES)

    def fit(self, X: pd.DataFrame, y: Any = None) -> ComBat:
        """Estimate grand mean, pooled variance, covariate and batch effects on training rows."""
        self._check_params()
        feats, covs = self._split_columns(X)
        check_frame(X, step="ComBat", columns=feats, min_rows=3)
        batch = self._batch_values(X)
        self._set_input_names(X)
        self.batches_ = sorted(pd.unique(batch), key=_sort_key)
        codes = _codes(batch, self.batches_)
        sizes = np.bincount(codes, minlength=len(self.batches_))
        self._check_batch_sizes(sizes)
        self._fit_covariate_encoding(X, covs)
        C = self._covariate_design(X, covs)
        Y = X[feats].to_numpy(dtype=float)
        B = np.eye(len(self.batches_))[codes]
        grand, var_pooled, beta = self._fit_location(Y, B, C, sizes, feats, covs)
        Z = (Y - grand - C @ beta) / np.sqrt(var_pooled)
        gamma_hat, delta_hat = _batch_moments(Z, codes, len(self.batches_))
        gamma_star, delta_star = self._shrink(Z, codes, gamma_hat, delta_hat, len(feats))
        self.feature_columns_ = feats
        self.covariate_columns_ = covs
        self.batch_sizes_ = pd.Series(sizes, index=pd.Index(self.batches_, name=self.batch_col))
        self.grand_mean_ = pd.Series(grand, index=feats)
        self.var_pooled_ = pd.Series(var_pooled, index=feats)
        self.covariate_effects_ = pd.DataFrame(beta, index=self._design_names_, columns=feats)
        def frame(a: np.ndarray) -> pd.DataFrame:
            return pd.DataFrame(a, index=list(self.batches_), columns=feats)

        self.gamma_hat_, self.delta_hat_ = frame(gamma_hat), frame(delta_hat)
        self.gamma_star_, self.delta_star_ = frame(gamma_star), frame(delta_star)
        self.feature_names_out_ = np.asarray(
            [c for c in X.columns if c != self.batch_col], dtype=object)
        return self

    def _split_columns(self, X: Any) -> tuple[list, list]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ComBat works on a pandas DataFrame; got {type(X).__name__}.")
        covs = list(self.covariates)
        needed = [self.batch_col, *covs]
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise SchemaError(
                f"ComBat: column(s) {format_values(missing)} not in X; available: "
                f"{list(X.columns)}. ComBat needs the batch column (batch_col=) and the "
                "protected covariates inside X.")
        if self.batch_col in covs:
            raise ValueError(f"ComBat: batch_col {self.batch_col!r} is also a covariate.")
        feats = [c for c in X.columns if c not in set(needed)]
        if not feats:
            raise SchemaError("ComBat: X has no feature column besides the batch and "
                              "covariates.")
        return feats, covs

    def _batch_values(self, X: pd.DataFrame) -> np.ndarray:
        batch = X[self.batch_col]
        miss = batch.isna().to_numpy()
        if miss.any():
            raise SchemaError("ComBat: the batch is missing for some rows; fill it in.",
                              column=str(self.batch_col), ids=list(X.index[miss]))
        return batch.to_numpy(dtype=object)

    def _check_batch_sizes(self, sizes: np.ndarray) -> None:
        small = [(b, int(n)) for b, n in zip(self.batches_, sizes, strict=True) if n < 2]
        if small:
            raise FitError(
                "ComBat: batches with fewer than 2 training rows cannot have their scale "
                f"estimated: {format_values(small)} (batch, rows). Merge small centres or "
                "harmonise without them.")

    def _fit_covariate_encoding(self, X: pd.DataFrame, covs: list) -> None:
        levels: dict = {}
        names: list = []
        for c in covs:
            s = X[c]
            if s.isna().any():
                raise SchemaError("ComBat: protected covariate has missing values.",
                                  column=str(c), ids=list(X.index[s.isna().to_numpy()]))
            if _is_continuous(s):
                names.append(str(c))
            else:
                lv = sorted(pd.unique(s.to_numpy(dtype=object)), key=_sort_key)
                levels[c] = lv
                names += [f"{c}[{v}]" for v in lv[1:]]
        self._categorical_levels_ = levels
        self._design_names_ = names

    def _covariate_design(self, X: pd.DataFrame, covs: list) -> np.ndarray:
        parts = []
        for c in covs:
            if c not in self._categorical_levels_:
                parts.append(X[c].to_numpy(dtype=float)[:, None])
                continue
            lv = self._categorical_levels_[c]
            vals = X[c].to_numpy(dtype=object)
            unseen = np.array([v not in lv for v in vals], dtype=bool)
            if unseen.any():
                raise SchemaError(
                    "ComBat: covariate level not seen in the training rows; its effect "
                    "cannot be protected. Refit on data including this level or merge it.",
                    column=str(c), ids=list(X.index[unseen]), values=list(vals[unseen]))
            parts.append(np.eye(len(lv))[_codes(vals, lv)][:, 1:])
        if not parts:
            return np.zeros((X.shape[0], 0))
        return np.hstack(parts)

    def _fit_location(self, Y: np.ndarray, B: np.ndarray, C: np.ndarray, sizes: np.ndarray,
                      feats: list, covs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        D = np.hstack([B, C])
        if np.linalg.matrix_rank(D) < D.shape[1]:
            raise FitError(
                f"ComBat: the protected covariates {format_values(covs)} are collinear with "
                "the batch (e.g. a level present in one centre only, or a covariate constant "
                "within centres): their effect cannot be separated from the batch effect.",
                columns=[str(c) for c in covs])
        coef, *_ = np.linalg.lstsq(D, Y, rcond=None)
        k = B.shape[1]
        grand = (sizes / sizes.sum()) @ coef[:k]
        resid = Y - D @ coef
        var_pooled = np.mean(resid**2, axis=0)
        flat = var_pooled <= 1e-24 * np.maximum(1.0, grand**2)
        if flat.any():
            cols = [f for f, b in zip(feats, flat, strict=True) if b]
            raise FitError(
                f"ComBat: features with no variance left after the batch and covariate "
                f"effects: {format_values(cols)}. Drop them first (VarianceFilter).",
                columns=[str(c) for c in cols])
        return grand, var_pooled, coef[k:]

    def _shrink(self, Z: np.ndarray, codes: np.ndarray, gamma_hat: np.ndarray,
                delta_hat: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        self.n_iter_ = {}
        if not self.eb:
            return gamma_hat.copy(), delta_hat.copy()
        if n_features < 2:
            raise FitError("ComBat: empirical Bayes pools information across features and "
                           "needs at least 2; use ComBat(eb=False) for a single feature.")
        g_star = np.empty_like(gamma_hat)
        d_star = np.empty_like(delta_hat)
        for k, b in enumerate(self.batches_):
            Zb = Z[codes == k]
            if self.parametric:
                g_star[k], d_star[k], it = _parametric_eb(Zb, gamma_hat[k], delta_hat[k],
                                                          self.max_iter)
                self.n_iter_[b] = it
                if it >= self.max_iter:
                    warnings.warn(
                        f"ComBat: empirical-Bayes estimates for batch {b!r} did not converge "
                        f"in {self.max_iter} iterations; increase max_iter.",
                        ConvergenceWarning, stacklevel=3)
            else:
                g_star[k], d_star[k] = _nonparametric_eb(Zb, gamma_hat[k], delta_hat[k])
        return g_star, d_star

    # ------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Harmonise rows of batches seen in training (and, with ``unseen="reference"``,
        rows of new batches, see the class docstring); drop the batch column."""
        X = self._check_columns(X)
        feats = self.feature_columns_
        Y = _feature_values(X, feats)
        batch = self._batch_values(X)
        seen = set(self.batches_)
        unseen = np.array([b not in seen for b in batch], dtype=bool)
        if unseen.any() and self.unseen != "reference":
            raise SchemaError(
                f"ComBat: batch value(s) {format_values(pd.unique(batch[unseen]))} were not in "
                f"the training rows (seen: {format_values(self.batches_)}), so their batch "
                "effect is unknown. Fit ComBat on data that include these batches, use "
                "ComBat(unseen='reference') to harmonise a new batch to the training "
                "reference from its own features, map them to a seen batch if they share "
                "the protocol, or exclude these rows explicitly.",
                column=str(self.batch_col), ids=list(X.index[unseen]))
        C = self._covariate_design(X, self.covariate_columns_)
        beta = self.covariate_effects_.to_numpy()
        loc = self.grand_mean_.to_numpy() + C @ beta
        sd = np.sqrt(self.var_pooled_.to_numpy())
        Z = (Y - loc) / sd
        gamma = np.empty_like(Z)
        delta = np.empty_like(Z)
        known = ~unseen
        if known.any():
            codes = _codes(batch[known], self.batches_)
            gamma[known] = self.gamma_star_.to_numpy()[codes]
            delta[known] = self.delta_star_.to_numpy()[codes]
        for b in pd.unique(batch[unseen]):
            rows = batch == b
            gamma[rows], delta[rows] = self._new_batch_effects(Z[rows], b, X.index[rows])
        Z = (Z - gamma) / np.sqrt(delta)
        if not self.covariate_columns_:     # every output column is harmonised
            keep = X.columns[X.columns != self.batch_col]
            return pd.DataFrame(Z * sd + loc, index=X.index, columns=keep)
        out = X.drop(columns=[self.batch_col]).astype(dict.fromkeys(feats, float))
        out[feats] = Z * sd + loc
        return out

    def _new_batch_effects(self, Zb: np.ndarray, batch: Any, ids: pd.Index
                           ) -> tuple[np.ndarray, np.ndarray]:
        """(gamma*, delta*) of a batch absent from training, from its own standardised rows."""
        if Zb.shape[0] < 2:
            raise SchemaError(
                f"ComBat(unseen='reference'): the new batch {batch!r} has a single row, so "
                "its scale cannot be estimated; harmonise the whole new centre in one call "
                "(at least 2 rows), or exclude it.", column=str(self.batch_col),
                ids=list(ids))
        g_hat, d_hat = _batch_moments(Zb, np.zeros(Zb.shape[0], dtype=int), 1)
        g_hat, d_hat = g_hat[0], d_hat[0]
        if not self.eb:
            return g_hat, d_hat
        if Zb.shape[1] < 2:
            raise FitError("ComBat: empirical Bayes pools information across features and "
                           "needs at least 2; use ComBat(eb=False) for a single feature.")
        if not self.parametric:
            return _nonparametric_eb(Zb, g_hat, d_hat)
        g_star, d_star, it = _parametric_eb(Zb, g_hat, d_hat, self.max_iter)
        if it >= self.max_iter:
            warnings.warn(f"ComBat: empirical-Bayes estimates for the new batch {batch!r} "
                          f"did not converge in {self.max_iter} iterations; increase "
                          "max_iter.", ConvergenceWarning, stacklevel=3)
        return g_star, d_star


def _feature_values(X: pd.DataFrame, feats: list) -> np.ndarray:
    """``check_frame(X, step="ComBat", columns=feats)``, then the features as floats."""
    check_frame(X, step="ComBat", columns=[])     # the TypeError and duplicate-name checks
    Y = checked_values(X, feats, step="ComBat")
    return X[feats].to_numpy(dtype=float) if Y is None else Y


def _sort_key(v: Any) -> tuple[str, Any]:
    """Sort mixed-type levels deterministically (numbers before strings)."""
    return (type(v).__name__, v) if isinstance(v, str) else ("", v)


def _codes(values: np.ndarray, levels: list) -> np.ndarray:
    pos = {v: i for i, v in enumerate(levels)}
    return np.array([pos[v] for v in values], dtype=int)


def _is_continuous(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))


def _batch_moments(Z: np.ndarray, codes: np.ndarray, n_batch: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-batch mean and variance (ddof=1) of the standardised data; a zero variance -> 1."""
    gamma = np.vstack([Z[codes == k].mean(axis=0) for k in range(n_batch)])
    delta = np.vstack([Z[codes == k].var(axis=0, ddof=1) for k in range(n_batch)])
    delta[delta == 0] = 1.0
    return gamma, delta


def _parametric_eb(Zb: np.ndarray, g_hat: np.ndarray, d_hat: np.ndarray, max_iter: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Posterior gamma*, delta* of one batch under normal / inverse-gamma priors."""
    g_bar = g_hat.mean()
    t2 = g_hat.var(ddof=1)
    m, s2 = d_hat.mean(), d_hat.var(ddof=1)
    a = (2.0 * s2 + m**2) / s2
    b = (m * s2 + m**3) / s2
    n = Zb.shape[0]
    g_old, d_old = g_hat, d_hat
    for it in range(1, max_iter + 1):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = ((Zb - g_new) ** 2).sum(axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(g_new - g_old) / g_old),
                     np.max(np.abs(d_new - d_old) / d_old))
        g_old, d_old = g_new, d_new
        if not change > _CONV:
            return g_new, d_new, it
    return g_old, d_old, max_iter


def _nonparametric_eb(Zb: np.ndarray, g_hat: np.ndarray, d_hat: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Non-parametric posterior means: each feature weighs the others' (gamma, delta).

    The weight of feature j for feature i is the normal likelihood of feature i's data
    under (gamma_hat_j, delta_hat_j), j != i; computed in log space (no underflow).
    """
    n = Zb.shape[0]
    s1 = Zb.sum(axis=0)
    s2 = (Zb**2).sum(axis=0)
    # sum2[i, j] = sum_k (z_ki - g_j)^2
    sum2 = s2[:, None] - 2.0 * s1[:, None] * g_hat[None, :] + n * g_hat[None, :] ** 2
    loglik = -0.5 * n * np.log(2.0 * np.pi * d_hat)[None, :] - sum2 / (2.0 * d_hat[None, :])
    np.fill_diagonal(loglik, -np.inf)
    w = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return w @ g_hat, w @ d_hat
