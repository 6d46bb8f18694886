"""The compiled Harrell's C kernels, held to the numpy wavelet sweep and to O(n^2) counts.

``event_pair_counts`` and ``pair_influence`` are numba Fenwick-tree sweeps; the numpy
implementation they replaced (``_event_pair_counts_wavelet``, ``_pair_influence_wavelet``)
and the naive double loop are the oracles. Also checks numba's on-disk cache: a fresh
process loads the kernels instead of compiling them, with the package directory
read-only (the cache then lives in the user's cache directory) and with nowhere to write.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import survrad
import survrad._math.concordance as kernel
from survrad.exceptions import SchemaError

FIELDS = ("concordant", "discordant", "tied_risk", "comparable")


@st.composite
def tied_survival(draw, max_size=50):
    """Survival data with many ties in time, in risk, and in both at once."""
    n = draw(st.integers(1, max_size))
    n_times = draw(st.integers(1, 6))
    n_risks = draw(st.integers(1, 6))
    time = draw(st.lists(st.integers(1, n_times), min_size=n, max_size=n))
    event = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    risk = draw(st.lists(st.integers(-n_risks, n_risks), min_size=n, max_size=n))
    return np.array(time, float) / 2, np.array(event, bool), np.array(risk, float) / 7


def by_subject(pairs, field):
    """A per-event array of ``pairs`` in the caller's subject order."""
    return getattr(pairs, field)[np.argsort(pairs.index)]


def naive_per_event(time, event, risk):
    """For each event (by subject position): lower-risk, equal-risk and comparable counts."""
    out = {}
    for i in np.flatnonzero(event):
        partner = (time > time[i]) | ((time == time[i]) & ~event)
        out[i] = (int(np.sum(partner & (risk < risk[i]))),
                  int(np.sum(partner & (risk == risk[i]))), int(partner.sum()))
    return out


@settings(max_examples=300, deadline=None)
@given(tied_survival())
def test_event_counts_match_wavelet_and_naive(data):
    time, event, risk = data
    fast = kernel.event_pair_counts(time, event, risk)
    ref = kernel._event_pair_counts_wavelet(time, event, risk)
    for field in FIELDS:
        np.testing.assert_array_equal(by_subject(fast, field), by_subject(ref, field))
    np.testing.assert_array_equal(np.sort(fast.index), np.flatnonzero(event))
    np.testing.assert_array_equal(fast.time, time[fast.index])
    assert np.all(np.diff(fast.time) <= 0)                       # decreasing event time
    assert fast.tied_time == ref.tied_time
    naive = naive_per_event(time, event, risk)
    for k, i in enumerate(fast.index):
        lower, equal, comparable = naive[i]
        assert (fast.concordant[k], fast.tied_risk[k], fast.comparable[k]) == (
            lower, equal, comparable)


@settings(max_examples=200, deadline=None)
@given(tied_survival(), st.integers(0, 2**32 - 1))
def test_pair_influence_matches_wavelet(data, seed):
    time, event, risk = data
    fast = kernel.event_pair_counts(time, event, risk)
    ref = kernel._event_pair_counts_wavelet(time, event, risk)
    w_subject = np.random.default_rng(seed).uniform(0.0, 3.0, time.size)   # per subject
    got = kernel.pair_influence(time, event, risk, fast, w_subject[fast.index])
    want = kernel._pair_influence_wavelet(time, event, risk, ref, w_subject[ref.index])
    for field in ("concordant", "discordant", "tied_risk"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12,
                                   atol=1e-12)
    # the sorted inputs travel with the counts; recomputing them gives the same numbers
    bare = kernel.EventPairCounts(fast.index, fast.time, fast.concordant, fast.discordant,
                                  fast.tied_risk, fast.comparable, fast.tied_time)
    again = kernel.pair_influence(time, event, risk, bare, w_subject[fast.index])
    np.testing.assert_array_equal(again.concordant, got.concordant)


def test_large_sample_with_ties_equals_wavelet():
    rng = np.random.default_rng(5)
    n = 200_000
    risk = np.round(rng.normal(size=n), 2)
    time = np.floor(rng.exponential(200 * np.exp(-0.5 * risk))) + 1
    event = rng.random(n) < 0.6
    fast = kernel.event_pair_counts(time, event, risk)
    ref = kernel._event_pair_counts_wavelet(time, event, risk)
    for field in FIELDS:
        np.testing.assert_array_equal(by_subject(fast, field), by_subject(ref, field))
    assert fast.tied_time == ref.tied_time


def test_no_event_and_empty_inputs():
    none = kernel.event_pair_counts(np.array([1.0, 2.0]), np.array([False, False]),
                                    np.array([0.0, 1.0]))
    assert none.index.size == 0 and none.tied_time == 0
    empty = kernel.event_pair_counts(np.zeros(0), np.zeros(0, bool), np.zeros(0))
    assert empty.index.size == 0
    with pytest.raises(SchemaError, match="no comparable pair"):
        kernel.harrell_c(np.array([1.0, 2.0]), np.array([False, False]), np.array([1.0, 2.0]))


# ------------------------------------------------------------------- on-disk cache
PROBE = """
import json, sys
import numpy as np
from survrad._math import concordance as k
c = k.harrell_c(np.array([1., 2., 3., 4.]), np.array([True, True, False, True]),
                np.array([4., 1., 2., 0.5]))
stats = k._event_counts_kernel.dispatcher.stats
print(json.dumps({"c": c, "path": stats.cache_path, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()),
                  "cache": type(k._event_counts_kernel.dispatcher._cache).__name__}))
"""


def _read_only_runner(pkg: Path) -> list[str] | None:
    """A command prefix under which ``pkg`` is read-only, or None if none can be made."""
    if os.geteuid() != 0:
        for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
            d.chmod(0o555)
        return []
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True, check=False).returncode:
        return None      # root without mount namespaces: cannot make a read-only directory
    return ["unshare", "-m", "sh", "-c",
            f'mount --bind "{pkg}" "{pkg}" && mount -o remount,ro,bind "{pkg}" "{pkg}" '
            '&& exec "$0" "$@"']


@pytest.mark.slow
def test_cache_works_from_a_read_only_package(tmp_path):
    root = tmp_path / "site"
    pkg = root / "survrad"
    shutil.copytree(Path(survrad.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    prefix = _read_only_runner(pkg)
    if prefix is None:
        pytest.skip("cannot make a read-only directory here")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NUMBA_", "XDG_CACHE"))}
    env.update(PYTHONPATH=str(root), HOME=str(tmp_path / "home"))

    def probe(**extra) -> dict:
        out = subprocess.run([*prefix, sys.executable, "-c", PROBE], env={**env, **extra},
                             cwd=tmp_path,
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    first, second = probe(), probe()
    assert first["c"] == second["c"] == pytest.approx(4 / 5)
    assert first["cache"] == second["cache"] == "FunctionCache"
    counts = (first["misses"], first["hits"], second["misses"], second["hits"])
    assert counts == (1, 0, 0, 1), (first, second)
    assert list((tmp_path / "home" / ".cache" / "numba").rglob("*.nbi"))
    assert not list(pkg.rglob("*.nbi"))                      # nothing written in the package
    # nowhere to write at all (the home "directory" is a file): compiled in memory
    (tmp_path / "not_a_dir").write_text("")
    nowhere = probe(HOME=str(tmp_path / "not_a_dir"))
    assert nowhere["c"] == first["c"] and nowhere["cache"] == "NullCache"
