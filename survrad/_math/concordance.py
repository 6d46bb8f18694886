"""Concordance kernels: per-event pair counts in O(n log n), compiled (layer 0).

For right-censored data a pair (i, j) is *comparable* when the shorter time is an event;
two events at the same time are not comparable; an event and a censoring at the same time
are comparable (the censored subject is taken to outlive the event). This is R's
``survival::concordance`` (``concordancefit`` / ``concordance3.c``).

Algorithm
---------
:func:`event_pair_counts` sorts the subjects by time and the risks into dense ranks (two
numpy sorts), then sweeps the times downwards once with a Fenwick (binary indexed) tree
over the ranks, compiled by numba (:mod:`survrad._math._jit`, cached on disk): at each
distinct time its censored subjects enter the tree, its events count the subjects
already in it with a lower or equal rank (all of them later, or censored at the same
time: the comparable partners), then its events enter. O(n log K) for K distinct risks,
with no Python loop. :func:`pair_influence` is the weighted sweep upwards for the
standard error.

The numpy wavelet-tree sweep that preceded the compiled kernel is kept as
:func:`earlier_lower_counts` / :func:`earlier_lower_weights` (and the private
``_event_pair_counts_wavelet`` / ``_pair_influence_wavelet``): the tests hold the compiled
kernels to it and to the naive O(n^2) count.

Standard error
--------------
R's ``concordance`` reports the infinitesimal-jackknife variance of Somers' d (survival
3.x, ``concordancefit``): with ``C_i``, ``D_i``, ``T_i`` the weighted numbers of
concordant, discordant and risk-tied comparable pairs that subject ``i`` belongs to (in
either role, each pair weighted by the time weight of its event), ``N`` the weighted
number of comparable pairs and ``d = (C - D) / N``,
``dfbeta_i = (C_i - D_i) / N - d (C_i + D_i + T_i) / N`` and
``var(C) = sum_i dfbeta_i^2 / 4``. :func:`pair_influence` computes ``C_i, D_i, T_i`` in
O(n log n): the event role comes from :func:`event_pair_counts`, the partner role from a
weighted Fenwick-tree sweep in increasing time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from survrad._math._jit import compiled
from survrad.exceptions import SchemaError

__all__ = ["EventPairCounts", "PairInfluence", "earlier_lower_counts", "earlier_lower_weights",
           "event_pair_counts", "harrell_c", "pair_influence"]

# rank, position and running count share one int64 when they fit in this many bits
_PACKED_BITS = 63


@dataclass(frozen=True)
class EventPairCounts:
    """Pair counts per event, by decreasing event time (see module docstring).

    Attributes
    ----------
    index : ndarray of int (n_events,)
        Position of each event in the caller's arrays.
    time : ndarray of float (n_events,)
        Its event time.
    concordant, discordant, tied_risk, comparable : ndarray of int (n_events,)
        Among the subjects comparable with this event (``comparable`` of them): how many
        have a lower risk (concordant: the earlier event has the higher risk), a higher
        risk (discordant) or the same risk.
    tied_time : int
        Number of pairs of events at the same time (not comparable).
    """

    index: np.ndarray
    time: np.ndarray
    concordant: np.ndarray
    discordant: np.ndarray
    tied_risk: np.ndarray
    comparable: np.ndarray
    tied_time: int
    #: time, event and risk rank in time order, the number of ranks and that order, as
    #: the counts were computed (reused by :func:`pair_influence`; None: recomputed)
    sorted_inputs: tuple | None = field(default=None, repr=False, compare=False)


def _dense_rank(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Dense ranks (0..K-1, ties share a rank), the sorting order, and K."""
    order = np.argsort(x, kind="quicksort")
    xs = x[order]
    new = np.empty(x.size, dtype=bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    sorted_rank = np.cumsum(new) - 1
    rank = np.empty(x.size, dtype=np.intp)
    rank[order] = sorted_rank
    return rank, order, int(sorted_rank[-1]) + 1 if x.size else 0


def earlier_lower_counts(rank: np.ndarray, n_ranks: int) -> tuple[np.ndarray, np.ndarray]:
    """For each position k: ``#{j < k: rank[j] < rank[k]}`` and ``#{j < k: rank[j] == rank[k]}``.

    Parameters
    ----------
    rank : ndarray of int (n,)
        Dense ranks in ``[0, n_ranks)``.
    n_ranks : int
        Number of distinct ranks.

    Returns
    -------
    lower, equal : ndarray of int (n,)

    Examples
    --------
    >>> lo, eq = earlier_lower_counts(np.array([2, 0, 1, 2, 0]), 3)
    >>> lo.tolist(), eq.tolist()
    ([0, 0, 1, 2, 0], [0, 0, 0, 1, 1])
    """
    r = np.asarray(rank, dtype=np.int64)
    n = r.size
    if n == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    # Each element travels as one int64 (rank | original position | running count) when
    # three fields fit in 63 bits (n < 2**21); above that the count is a separate array.
    width = max(n.bit_length(), 1)
    low = width                              # bits of the running count
    if 3 * width > _PACKED_BITS:
        if n >= 2**31:
            raise ValueError(f"too many subjects for the concordance kernel: {n}.")
        low = 0
    first = np.zeros(n_ranks + 1, dtype=np.int64)   # first[v] = #{rank < v}
    np.cumsum(np.bincount(r, minlength=n_ranks), out=first[1:])
    k = np.arange(n, dtype=np.int64)
    rank_shift = low + width
    packed = (r << rank_shift) | (k << low)
    work = _Workspace(n, separate=not low)
    for level in range(max(1, (n_ranks - 1).bit_length()) - 1, -1, -1):
        packed = work.level(packed, rank_shift + level, level, first, k)
    mask = (1 << width) - 1
    pos = (packed >> low) & mask      # packed is now sorted by (rank, original position)
    out_lower = np.empty(n, dtype=np.intp)
    out_lower[pos] = packed & mask if work.lower is None else work.lower
    out_equal = np.empty(n, dtype=np.intp)
    out_equal[pos] = k - first[packed >> rank_shift]
    return out_lower, out_equal


class _Workspace:
    """Buffers reused across the levels of the sweep (fresh large arrays cost page faults)."""

    def __init__(self, n: int, *, separate: bool) -> None:
        self.bit = np.empty(n, dtype=np.int64)
        self.upper = np.empty(n, dtype=np.int64)
        self.left_before = np.empty(n + 1, dtype=np.int64)   # lower-half elements before k
        self.new_pos = np.empty(n, dtype=np.int64)
        self.tmp = np.empty(n, dtype=np.int64)
        self.spare = np.empty(n, dtype=np.int64)
        self.lower = np.zeros(n, dtype=np.int64) if separate else None
        self.spare_lower = np.empty(n, dtype=np.int64) if separate else None

    def level(self, packed: np.ndarray, shift: int, level: int, first: np.ndarray,
              k: np.ndarray) -> np.ndarray:
        """One level of the sweep over rank bit ``level`` (stored at bit ``shift``).

        ``packed`` is sorted by (rank >> (level + 1), original position): a *block* is a
        run of elements whose ranks share the bits above ``level``, its span given by
        ``first``. For every upper-half element (bit set) add the number of lower-half
        elements before it in its block; then stable-partition each block into its lower
        and upper halves. Returns the new ``packed`` (the old buffer is recycled).
        """
        n = packed.size
        n_ranks = first.size - 1
        bit, upper, new_pos, tmp = self.bit, self.upper, self.new_pos, self.tmp
        left = self.left_before[:n]
        np.right_shift(packed, shift, out=bit)
        np.bitwise_and(bit, 1, out=bit)
        np.cumsum(bit, out=upper)
        np.subtract(k, upper, out=left)
        left += bit
        self.left_before[n] = n - upper[-1]
        lo = np.arange(0, n_ranks, 1 << (level + 1))
        start = first[lo]
        end = first[np.minimum(lo + (1 << (level + 1)), n_ranks)]
        size = end - start
        np.subtract(left, np.repeat(self.left_before[start], size), out=new_pos)
        np.multiply(bit, new_pos, out=tmp)                  # lower-half count in block
        if self.lower is None:
            packed += tmp                                   # the count lives in the low bits
        else:
            self.lower += tmp
        new_pos += np.repeat(start, size)                   # lower half keeps its order...
        np.subtract(k, left, out=tmp)                       # ...the upper half follows it
        tmp += np.repeat(self.left_before[end], size)
        tmp -= new_pos
        tmp *= bit
        new_pos += tmp
        out, self.spare = self.spare, packed
        out[new_pos] = packed
        if self.lower is not None:
            self.spare_lower[new_pos] = self.lower
            self.lower, self.spare_lower = self.spare_lower, self.lower
        return out


def _processing_order(time: np.ndarray, event: np.ndarray, risk_order: np.ndarray
                      ) -> np.ndarray:
    """Time descending; at tied times censored first, then events by risk descending."""
    ev_by_risk = risk_order[event[risk_order]]
    arranged = np.concatenate([ev_by_risk, np.flatnonzero(~event)])
    key = time[arranged]
    if key.size and key.min() >= 0 and key.max() < 2**16 and np.all(key == np.floor(key)):
        key = key.astype(np.uint16)     # whole days or months: numpy's O(n) radix sort
    ascending = arranged[np.argsort(key, kind="stable")]
    return ascending[::-1]


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """For each position, the first position of its run of equal consecutive keys."""
    n = keys[0].size
    new = np.zeros(n, dtype=bool)
    new[:1] = True
    for key in keys:
        new[1:] |= key[1:] != key[:-1]
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def _event_pair_counts_wavelet(time: np.ndarray, event: np.ndarray, risk: np.ndarray
                               ) -> EventPairCounts:
    """:func:`event_pair_counts` by the numpy wavelet-tree sweep (the reference the
    compiled kernel is tested against; events of a tied time by risk descending)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    rank, risk_order, n_ranks = _dense_rank(np.asarray(risk, dtype=float))
    proc = _processing_order(time, event, risk_order)
    t_p, e_p, r_p = time[proc], event[proc], rank[proc]
    lower, equal = earlier_lower_counts(r_p, n_ranks)
    group_start = _run_starts(t_p, e_p)         # P: first position of the tied-event group
    run_start = _run_starts(t_p, e_p, r_p)      # tied on time and risk
    ev = np.flatnonzero(e_p)
    k = ev                                      # positions of events in processing order
    tied_in_group = k - run_start[ev]          # earlier group mates with the same risk
    tied = equal[ev] - tied_in_group
    comparable = group_start[ev]
    concordant = lower[ev]
    discordant = comparable - concordant - tied
    in_group = k - group_start[ev]              # earlier tied events: 0, 1, ..., d-1
    return EventPairCounts(index=proc[ev], time=t_p[ev], concordant=concordant,
                           discordant=discordant, tied_risk=tied, comparable=comparable,
                           tied_time=int(in_group.sum()))


def earlier_lower_weights(rank: np.ndarray, n_ranks: int, weight: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """For each position k: ``sum_{j<k, rank[j]<rank[k]} weight[j]`` and the same with ``==``.

    The weighted form of :func:`earlier_lower_counts`, by the same sweep over the bits of
    the ranks (float running sums instead of packed integer counts): O(n log K).

    Parameters
    ----------
    rank : ndarray of int (n,)
        Dense ranks in ``[0, n_ranks)``.
    n_ranks : int
    weight : ndarray of float (n,)

    Returns
    -------
    lower, equal : ndarray of float (n,)

    Examples
    --------
    >>> lo, eq = earlier_lower_weights(np.array([2, 0, 1, 2, 0]), 3,
    ...                                np.array([1.0, 2.0, 4.0, 8.0, 16.0]))
    >>> lo.tolist(), eq.tolist()
    ([0.0, 0.0, 2.0, 6.0, 0.0], [0.0, 0.0, 0.0, 1.0, 2.0])
    """
    r = np.asarray(rank, dtype=np.int64)
    w = np.asarray(weight, dtype=float)
    n = r.size
    if n == 0:
        return np.zeros(0), np.zeros(0)
    if n >= 2**31:
        raise ValueError(f"too many subjects for the concordance kernel: {n}.")
    first = np.zeros(n_ranks + 1, dtype=np.int64)           # first[v] = #{rank < v}
    np.cumsum(np.bincount(r, minlength=n_ranks), out=first[1:])
    k = np.arange(n, dtype=np.int64)
    packed = (r << 32) | k                                   # rank | original position
    acc = np.zeros(n)                                        # travels with its element
    w_before = np.zeros(n + 1)
    zeros_before = np.zeros(n + 1, dtype=np.int64)
    bit = np.empty(n, dtype=np.int64)
    new_pos = np.empty(n, dtype=np.int64)
    for level in range(max(1, (n_ranks - 1).bit_length()) - 1, -1, -1):
        # packed is sorted by (rank >> (level + 1), position): each block of elements
        # sharing the rank bits above `level` is contiguous, its span given by `first`
        np.right_shift(packed, 32 + level, out=bit)
        np.bitwise_and(bit, 1, out=bit)
        lo = np.arange(0, n_ranks, 1 << (level + 1))
        starts = first[lo]
        ends = first[np.minimum(lo + (1 << (level + 1)), n_ranks)]
        sizes = ends - starts
        np.cumsum(np.where(bit == 1, 0.0, w), out=w_before[1:])
        acc += bit * (w_before[:-1] - np.repeat(w_before[starts], sizes))
        np.cumsum(1 - bit, out=zeros_before[1:])
        zeros_in = zeros_before[:-1] - np.repeat(zeros_before[starts], sizes)
        start = np.repeat(starts, sizes)
        np.add(start, zeros_in, out=new_pos)                 # lower half keeps its order,
        upper_pos = start + np.repeat(zeros_before[ends] - zeros_before[starts], sizes) \
            + (k - start) - zeros_in                         # the upper half follows it
        np.copyto(new_pos, upper_pos, where=bit == 1)
        out_packed, out_w, out_acc = (np.empty_like(packed), np.empty_like(w),
                                      np.empty_like(acc))
        out_packed[new_pos] = packed
        out_w[new_pos] = w
        out_acc[new_pos] = acc
        packed, w, acc = out_packed, out_w, out_acc
    pos = packed & 0xFFFFFFFF                                # now sorted by (rank, position)
    np.cumsum(w, out=w_before[1:])
    lower = np.empty(n)
    lower[pos] = acc
    equal = np.empty(n)
    equal[pos] = w_before[:-1] - w_before[first[packed >> 32]]
    return lower, equal


@dataclass(frozen=True)
class PairInfluence:
    """Weighted comparable pairs each subject belongs to (as the event or as the partner).

    Attributes
    ----------
    concordant, discordant, tied_risk : ndarray of float (n,)
        In the caller's order: the summed time weights of the concordant, discordant and
        risk-tied comparable pairs that include the subject (R's ``influence`` columns 1-3
        of ``concordancefit``, before scaling).
    """

    concordant: np.ndarray
    discordant: np.ndarray
    tied_risk: np.ndarray


def _pair_influence_wavelet(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                            pairs: EventPairCounts, weight: np.ndarray) -> PairInfluence:
    """:func:`pair_influence` by the numpy wavelet-tree sweep (the tested reference)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    n = time.size
    w = np.zeros(n)
    w[pairs.index] = weight
    rank, risk_order, n_ranks = _dense_rank(np.asarray(risk, dtype=float))
    # Partner role: an event j counts for every subject before it in processing order
    # except its tied-event group mates. In reverse processing order (time ascending; at a
    # tied time events, then censorings) every subject is a query and every event an
    # insert of weight w placed after the queries of its own tied-event group.
    rev = _processing_order(time, event, risk_order)[::-1]
    e_r = event[rev]
    group = _run_starts(time[rev], e_r)
    ev = np.flatnonzero(e_r)
    primary = np.concatenate([np.where(e_r, group, np.arange(n)), ev])
    secondary = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(ev.size, dtype=np.int8)])
    order = np.lexsort((secondary, primary))
    seq_w = np.concatenate([np.zeros(n), w[rev[ev]]])[order]
    seq_rank = np.concatenate([rank[rev], rank[rev[ev]]])[order]
    lower, equal = earlier_lower_weights(seq_rank, n_ranks, seq_w)
    before = np.cumsum(seq_w) - seq_w
    query = order < n
    who = rev[order[query]]
    partner_lower = np.empty(n)
    partner_equal = np.empty(n)
    partner_higher = np.empty(n)
    partner_lower[who] = lower[query]
    partner_equal[who] = equal[query]
    partner_higher[who] = before[query] - lower[query] - equal[query]
    # event role: its own comparable partners, times its weight
    conc = partner_higher               # the earlier event has the higher risk: concordant
    disc = partner_lower
    tied = partner_equal
    conc[pairs.index] += weight * pairs.concordant
    disc[pairs.index] += weight * pairs.discordant
    tied[pairs.index] += weight * pairs.tied_risk
    return PairInfluence(concordant=conc, discordant=disc, tied_risk=tied)


# ------------------------------------------------------------------ compiled kernels
# One Fenwick (binary indexed) tree over the dense risk ranks, swept once over the time
# order: O(n log K) after two sorts, the floor for exact pair counting. ``tree`` holds
# the inserted subjects (or weights) per rank; ``same`` the same per single rank, so the
# tied-risk count is one look-up instead of a second prefix query.
@compiled
def _sorted_kernel(time, event, risk, risk_order, order):    # pragma: no cover (compiled)
    """Dense risk ranks (from the risk order), then time, event and rank in the time
    order (the sweeps then read memory in order); and the number of ranks."""
    n = order.size
    rank = np.empty(n, np.int32)
    k = -1
    prev = 0.0
    for q in range(n):
        v = risk[risk_order[q]]
        if q == 0 or v != prev:
            k += 1
            prev = v
        rank[risk_order[q]] = k
    t_s = np.empty(n)
    e_s = np.empty(n, np.bool_)
    r_s = np.empty(n, np.int32)
    for q in range(n):
        i = order[q]
        t_s[q] = time[i]
        e_s[q] = event[i]
        r_s[q] = rank[i]
    return t_s, e_s, r_s, k + 1


@compiled
def _event_counts_kernel(t_s, e_s, r_s, n_ranks, order):    # pragma: no cover (compiled)
    """Event role, time descending. Per block of tied times: its censored subjects enter
    the tree, its events are counted against the tree, then its events enter."""
    n = order.size
    n_ev = 0
    for q in range(n):
        n_ev += e_s[q]
    index = np.empty(n_ev, np.int64)
    ev_time = np.empty(n_ev)
    conc = np.empty(n_ev, np.int64)
    tied = np.empty(n_ev, np.int64)
    comp = np.empty(n_ev, np.int64)
    tree = np.zeros(n_ranks + 1, np.int32)
    same = np.zeros(n_ranks, np.int32)
    inserted = 0
    tied_time = 0
    m = 0
    hi = n
    while hi > 0:
        t = t_s[hi - 1]
        lo = hi - 1
        while lo > 0 and t_s[lo - 1] == t:
            lo -= 1
        d = m
        for stage in range(3):     # 0: censored enter, 1: events are counted, 2: events enter
            for q in range(lo, hi):
                if e_s[q] != (stage > 0):
                    continue
                r = r_s[q]
                if stage == 1:
                    below = 0
                    j = r
                    while j > 0:
                        below += tree[j]
                        j -= j & -j
                    index[m] = order[q]
                    ev_time[m] = t
                    conc[m] = below
                    tied[m] = same[r]
                    comp[m] = inserted
                    m += 1
                    continue
                same[r] += 1
                inserted += 1
                j = r + 1
                while j <= n_ranks:
                    tree[j] += 1
                    j += j & -j
        d = m - d
        tied_time += d * (d - 1) // 2
        hi = lo
    return index, ev_time, conc, tied, comp, tied_time


@compiled
def _partner_weights_kernel(t_s, e_s, r_s, n_ranks, order, w):  # pragma: no cover
    """Partner role, time ascending: each subject sums the weights of the events that
    precede it (earlier time; at its own time, only a censored subject counts the
    events), split by their risk rank below / equal to / above its own."""
    n = order.size
    lower = np.empty(n)
    equal = np.empty(n)
    higher = np.empty(n)
    tree = np.zeros(n_ranks + 1)
    same = np.zeros(n_ranks)
    total = 0.0
    lo = 0
    while lo < n:
        t = t_s[lo]
        hi = lo + 1
        while hi < n and t_s[hi] == t:
            hi += 1
        for stage in range(3):          # 0: events query, 1: events enter, 2: censored query
            for q in range(lo, hi):
                if e_s[q] != (stage < 2):
                    continue
                i = order[q]
                r = r_s[q]
                if stage == 1:
                    wi = w[i]
                    same[r] += wi
                    j = r + 1
                    while j <= n_ranks:
                        tree[j] += wi
                        j += j & -j
                    total += wi
                    continue
                below = 0.0
                j = r
                while j > 0:
                    below += tree[j]
                    j -= j & -j
                lower[i] = below
                equal[i] = same[r]
                higher[i] = total - below - same[r]
        lo = hi
    return lower, equal, higher


def _sorted_inputs(time: np.ndarray, event: np.ndarray, risk: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Time, event and dense risk rank in increasing time; the number of ranks; the order."""
    order = np.argsort(time)
    t_s, e_s, r_s, n_ranks = _sorted_kernel(time, event, risk, np.argsort(risk), order)
    return t_s, e_s, r_s, int(n_ranks), order


def event_pair_counts(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> EventPairCounts:
    """Concordant / discordant / tied-risk comparable pairs of every event.

    Compiled O(n log n) kernel (two sorts and one Fenwick-tree sweep). Inputs are assumed
    validated (same length, finite, ``event`` boolean); see
    :func:`survrad.evaluation.concordance_index` for the checked public function.

    Parameters
    ----------
    time : ndarray of float (n,)
    event : ndarray of bool (n,)
    risk : ndarray of float (n,)
        Higher risk = earlier event expected.

    Returns
    -------
    EventPairCounts
        Events by decreasing time (the order of events sharing a time is unspecified).

    Examples
    --------
    >>> c = event_pair_counts(np.array([1., 2., 3.]), np.array([True, True, False]),
    ...                       np.array([3., 1., 2.]))
    >>> int(c.concordant.sum()), int(c.discordant.sum()), int(c.comparable.sum())
    (2, 1, 3)
    """
    time = np.ascontiguousarray(time, dtype=float)
    event = np.ascontiguousarray(event, dtype=bool)
    inputs = _sorted_inputs(time, event, np.ascontiguousarray(risk, dtype=float))
    index, ev_time, conc, tied, comp, tied_time = _event_counts_kernel(*inputs)
    return EventPairCounts(index=index, time=ev_time, concordant=conc,
                           discordant=comp - conc - tied, tied_risk=tied, comparable=comp,
                           tied_time=int(tied_time), sorted_inputs=inputs)


def pair_influence(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                   pairs: EventPairCounts, weight: np.ndarray) -> PairInfluence:
    """Per-subject weighted pair counts behind the standard error of C (see module docstring).

    Compiled O(n log n) kernel: the partner role by one weighted Fenwick-tree sweep in
    increasing time, the event role from ``pairs``.

    Parameters
    ----------
    time, event, risk : ndarray (n,)
        As :func:`event_pair_counts` (validated).
    pairs : EventPairCounts
        ``event_pair_counts(time, event, risk)``.
    weight : ndarray of float (n_events,)
        Time weight of each event, aligned with ``pairs.index`` (1 for Harrell's C,
        ``1 / G(t-)^2`` for Uno's, 0 after a truncation time).

    Returns
    -------
    PairInfluence

    Examples
    --------
    >>> t, e, r = np.array([1., 2., 3.]), np.array([True, True, False]), np.array([3., 1., 2.])
    >>> inf = pair_influence(t, e, r, event_pair_counts(t, e, r), np.ones(2))
    >>> inf.concordant.tolist(), inf.discordant.tolist()
    ([2.0, 1.0, 1.0], [0.0, 1.0, 1.0])
    """
    time = np.ascontiguousarray(time, dtype=float)
    event = np.ascontiguousarray(event, dtype=bool)
    w = np.zeros(time.size)
    w[pairs.index] = weight
    inputs = pairs.sorted_inputs
    if inputs is None or inputs[0].size != time.size:
        inputs = _sorted_inputs(time, event, np.ascontiguousarray(risk, dtype=float))
    lower, equal, higher = _partner_weights_kernel(*inputs, w)
    # the partner's earlier event with the higher risk is concordant
    conc, disc, tied = higher, lower, equal
    conc[pairs.index] += weight * pairs.concordant
    disc[pairs.index] += weight * pairs.discordant
    tied[pairs.index] += weight * pairs.tied_risk
    return PairInfluence(concordant=conc, discordant=disc, tied_risk=tied)


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of validated arrays (higher risk = earlier event; tied risks count 1/2).

    The kernel behind :func:`survrad.evaluation.concordance_index` without its input
    checks and id alignment, for callers below the evaluation layer (e.g. the forest's
    permutation importance).

    Raises
    ------
    SchemaError
        No comparable pair (the index is undefined).

    Examples
    --------
    >>> harrell_c(np.array([1.0, 2.0, 3.0]), np.array([True, True, False]),
    ...           np.array([3.0, 1.0, 2.0]))
    0.6666666666666666
    """
    pairs = event_pair_counts(time, event, risk)
    comparable = int(pairs.comparable.sum())
    if comparable == 0:
        raise SchemaError("no comparable pair of patients (no event before another patient's "
                          "time): the concordance index is undefined.")
    return float((pairs.concordant.sum() + 0.5 * pairs.tied_risk.sum()) / comparable)
