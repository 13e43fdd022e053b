"""Exact whole-bag plans for many fields at once, without a MILP solver (numpy enumeration).

Same model as :func:`.blend.plan` / :func:`.blend.plan_split` (same bounds, same product filtering,
same "≤ max_products products" rule) but solved by enumerating bag counts, vectorised over fields:

* for every set S of ``max_products`` usable columns (zero bags allowed, so smaller sets are covered),
  order S as (j, k, l) with l the product that fits the most bags;
* for every (n_j, n_k) with n_j <= ub_j, n_k <= ub_k the cheapest feasible n_l is the smallest
  integer satisfying every nutrient window, i.e. ``max(0, max_i ceil((L_i - s_i) / a_il))``; it is
  feasible iff it is <= every ``floor((U_i - s_i) / a_il)`` and <= ub_l, and nutrients l does not carry
  already lie in their window;
* the cheapest feasible point over all S is the optimum (prices are positive, so for fixed n_j, n_k
  the smallest n_l is the cheapest).

Fields are sorted by size and processed in chunks so a chunk's grid is close to each field's own.
This is exact (ties in cost may pick a different but equally cheap set of bags); the benchmark
(benchmarks/fertilizer_batch.py) checks it against HiGHS on a sample.
"""

from __future__ import annotations

from itertools import combinations

import highspy
import numpy as np

from .blend import _EPS, Catalogue, _HighsSolver

_FEAS_EPS = 1e-7  # same order as the 1e-6 guard blend._solve_milp applies to HiGHS' answer
_COST_SLACK = 1e-6  # keep candidates that tie with the incumbent (for the N tie-break)
_TIE_N = 1e-7  # CNY per kg N: far below a price step (0.01), only breaks exact cost ties
_CHUNK_FIELDS = 4096  # fields per vectorised step (sorted by size, so their grids are alike)


def _columns(catalogue: Catalogue, chloride_sensitive: bool) -> np.ndarray:
    """Allowed columns with identical nutrient vectors collapsed to the cheapest (as blend.plan)."""
    allowed = np.ones(len(catalogue), dtype=bool)
    if chloride_sensitive:
        allowed &= catalogue.chloride_free
    has_nutrient = (catalogue.matrix > 0).any(axis=0)
    best: dict[tuple[float, ...], int] = {}
    for j in np.nonzero(allowed & has_nutrient)[0]:
        key = tuple(np.round(catalogue.matrix[:, j], 9))
        k = best.get(key)
        if k is None or catalogue.prices[j] < catalogue.prices[k]:
            best[key] = int(j)
    return np.array(sorted(best.values()), dtype=int)


def _bag_bounds(A: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(n, m) most bags of each product under every nutrient's upper bound, per field."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(A[None, :, :] > 0, upper[:, :, None] / np.where(A > 0, A, 1.0)[None], np.inf)
    ub = np.floor(ratio.min(axis=1) + 1e-9)
    ub[~np.isfinite(ub)] = 0.0
    return ub


def solve_bounds(
    catalogue: Catalogue,
    lower: np.ndarray,
    upper: np.ndarray,
    max_products: int | None = 3,
    chloride_sensitive: bool = False,
    prefer_n: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest whole-bag plans with ``lower <= A n <= upper`` for each row of ``lower``/``upper``
    (shape (n, 3), whole-plan kg). ``prefer_n`` breaks exact cost ties towards more N.
    Returns (bags (n, len(catalogue)) int, cost (n,), feasible (n,))."""
    lower = np.asarray(lower, dtype=float)
    upper = np.maximum(np.asarray(upper, dtype=float), lower)
    n = lower.shape[0]
    m_all = len(catalogue)
    bags = np.zeros((n, m_all), dtype=np.int64)
    cost = np.zeros(n)
    feasible = np.zeros(n, dtype=bool)
    nothing = ~(lower > _EPS).any(axis=1)
    feasible[nothing] = True
    cols = _columns(catalogue, chloride_sensitive)
    if len(cols) == 0 or nothing.all():
        return bags, cost, feasible
    A = catalogue.matrix[:, cols]
    prices = catalogue.prices[cols]
    todo = np.nonzero(~nothing)[0]
    ub_all = _bag_bounds(A, upper[todo])
    order = todo[np.argsort(ub_all.sum(axis=1), kind="stable")]
    ub_sorted = _bag_bounds(A, upper[order])
    size = len(cols) if max_products is None else min(max_products, len(cols))
    for start in range(0, len(order), _CHUNK_FIELDS):
        idx = order[start : start + _CHUNK_FIELDS]
        _solve_chunk(
            A,
            prices,
            lower[idx],
            upper[idx],
            ub_sorted[start : start + _CHUNK_FIELDS],
            size,
            idx,
            cols,
            bags,
            cost,
            feasible,
            prefer_n,
        )
    return bags, cost, feasible


def _lp_cost(A: np.ndarray, prices: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Continuous relaxation cost (HiGHS LP) — only used to try promising product sets first."""
    h = _HighsSolver()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    m = A.shape[1]
    lp.num_col_, lp.num_row_ = m, 3
    lp.col_cost_ = prices.astype(float)
    lp.col_lower_ = np.zeros(m)
    lp.col_upper_ = np.full(m, highspy.kHighsInf)
    lp.row_lower_ = lower.astype(float)
    lp.row_upper_ = upper.astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 3 * m + 1, 3, dtype=np.int32)
    lp.a_matrix_.index_ = np.tile(np.arange(3, dtype=np.int32), m)
    lp.a_matrix_.value_ = A.T.ravel().astype(float)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.inf
    return float(h.getInfo().objective_function_value)


def _solve_chunk(
    A: np.ndarray,
    prices: np.ndarray,
    L: np.ndarray,
    U: np.ndarray,
    ub: np.ndarray,
    size: int,
    idx: np.ndarray,
    cols: np.ndarray,
    bags_out: np.ndarray,
    cost_out: np.ndarray,
    feas_out: np.ndarray,
    prefer_n: bool,
) -> None:
    f = L.shape[0]
    m = A.shape[1]
    live = np.nonzero(ub.max(axis=0) > 0)[0]  # columns some field of the chunk can use
    need = L > _EPS
    subsets = list(combinations(live.tolist(), size)) if len(live) >= size else [tuple(live.tolist())]
    subsets = [S for S in subsets if S]
    # promising sets first (LP relaxation at the chunk's median field) so the incumbent prunes early
    mid = f // 2
    subsets.sort(key=lambda S: _lp_cost(A[:, list(S)], prices[list(S)], L[mid], U[mid]))
    best_raw = np.full(f, np.inf)  # plain cost of the incumbent (pruning bound)
    best_key = np.full(f, np.inf)  # cost with the N tie-break
    best = np.zeros((f, m), dtype=np.int64)
    for subset in subsets:
        S = np.array(subset)
        carried = (A[:, S] > 0).any(axis=1)
        if not (~(need & ~carried[None, :]).any(axis=1)).any():
            continue  # a wanted nutrient no product of S carries, for every field
        S = S[np.argsort(ub[:, S].max(axis=0), kind="stable")]
        last, grid_cols = int(S[-1]), S[:-1]
        fi, V = _candidates(A, prices, L, U, ub, S, best_raw)
        if fi.size == 0:
            continue
        s = V @ A[:, grid_cols].T if len(grid_cols) else np.zeros((fi.size, 3))
        rem_lo = L[fi] - s
        rem_hi = U[fi] - s
        a_last = A[:, last]
        n_last = np.zeros(fi.size)
        hi = ub[fi, last].astype(float)
        ok = np.ones(fi.size, dtype=bool)
        for i in range(3):
            if a_last[i] > 0:
                n_last = np.maximum(n_last, np.ceil((rem_lo[:, i] - _FEAS_EPS) / a_last[i]))
                hi = np.minimum(hi, np.floor((rem_hi[:, i] + _FEAS_EPS) / a_last[i]))
            else:
                ok &= (rem_lo[:, i] <= _FEAS_EPS) & (rem_hi[:, i] >= -_FEAS_EPS)
        ok &= n_last <= hi
        raw = (V @ prices[grid_cols] if len(grid_cols) else 0.0) + n_last * prices[last]
        ok &= raw <= best_raw[fi] + _COST_SLACK
        if not ok.any():
            continue
        fi, V, n_last, s, raw = fi[ok], V[ok], n_last[ok], s[ok], raw[ok]
        key = raw - _TIE_N * (s[:, 0] + n_last * a_last[0]) if prefer_n else raw
        # per field, the cheapest candidate of this set (fi is sorted)
        order = np.lexsort((key, fi))
        fs = fi[order]
        first = order[np.r_[True, fs[1:] != fs[:-1]]]
        rows = fi[first]
        better = key[first] < best_key[rows] - 1e-9
        if not better.any():
            continue
        first, rows = first[better], rows[better]
        best_key[rows] = key[first]
        best_raw[rows] = raw[first]
        best[rows] = 0
        if len(grid_cols):
            best[np.ix_(rows, grid_cols)] = V[first].astype(np.int64)
        best[rows, last] = n_last[first].astype(np.int64)
    ok_rows = np.isfinite(best_key)
    feas_out[idx] = ok_rows
    cost_out[idx] = np.where(ok_rows, best @ prices, 0.0)
    full = np.zeros((f, bags_out.shape[1]), dtype=np.int64)
    full[:, cols] = best
    bags_out[idx] = full


def _candidates(
    A: np.ndarray,
    prices: np.ndarray,
    L: np.ndarray,
    U: np.ndarray,
    ub: np.ndarray,
    S: np.ndarray,
    bound: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate counts of the grid products S[:-1]: (field index (P,), counts (P, len(S) - 1)),
    field index sorted; points whose grid cost already exceeds ``bound`` (the incumbent) are dropped."""
    f = L.shape[0]
    if len(S) == 1:
        return np.arange(f), np.zeros((f, 0))
    if len(S) == 2:
        j = int(S[0])
        J = int(ub[:, j].max()) + 1
        fi = np.repeat(np.arange(f), J)
        nj = np.tile(np.arange(J, dtype=float), f)
        keep = (nj <= ub[fi, j]) & (nj * prices[j] <= bound[fi] + _COST_SLACK)
        return fi[keep], nj[keep][:, None]
    return _pair_points(A, prices, L, U, ub, S, bound)


def _pair_points(
    A: np.ndarray,
    prices: np.ndarray,
    L: np.ndarray,
    U: np.ndarray,
    ub: np.ndarray,
    S: np.ndarray,
    bound: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (n_j, n_k) for products S = (j, k, l): every n_j in 0..ub_j and, for each, the n_k
    interval of the real polygon {n_k, n_l >= 0 : L - a_j n_j <= a_k n_k + a_l n_l <= U - a_j n_j,
    n_k <= ub_k, n_l <= ub_l} (Fourier-Motzkin elimination of n_l, with slack so no integer point is
    lost), cut to p_j n_j + p_k n_k <= bound. Returns (field index (P,), (n_j, n_k) (P, 2))."""
    j, k, last = (int(x) for x in S)
    f = L.shape[0]
    # (field, n_j) pairs: n_j <= ub_j and p_j n_j <= incumbent
    jmax = ub[:, j].copy()
    if prices[j] > 0:
        jmax = np.minimum(jmax, np.floor((bound + _COST_SLACK) / prices[j]))
    jmax = np.where(np.isfinite(jmax), jmax, ub[:, j]).astype(np.int64)
    n1 = np.maximum(jmax + 1, 0)
    fr = np.repeat(np.arange(f), n1)
    if fr.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    nj = (np.arange(fr.size) - np.repeat(np.cumsum(n1) - n1, n1)).astype(float)
    lo = L[fr] - nj[:, None] * A[:, j][None, :]  # (P1, 3)
    hi = U[fr] - nj[:, None] * A[:, j][None, :]
    ok = np.ones(fr.size, dtype=bool)
    kl = np.zeros(fr.size)
    kh = ub[fr, k].astype(float)
    if prices[k] > 0:
        kh = np.minimum(kh, (bound[fr] + _COST_SLACK - nj * prices[j]) / prices[k])
    ub_last = ub[fr, last]
    ak, al = A[:, k], A[:, last]
    eps = _FEAS_EPS
    for i in range(3):
        if al[i] == 0:
            if ak[i] > 0:
                kl = np.maximum(kl, lo[:, i] / ak[i])
                kh = np.minimum(kh, hi[:, i] / ak[i])
            else:
                ok &= (lo[:, i] <= eps) & (hi[:, i] >= -eps)
        else:
            if ak[i] > 0:
                kl = np.maximum(kl, (lo[:, i] - al[i] * ub_last) / ak[i])
                kh = np.minimum(kh, hi[:, i] / ak[i])
            else:
                ok &= (lo[:, i] - al[i] * ub_last <= eps) & (hi[:, i] >= -eps)
    for i in range(3):
        for i2 in range(3):
            if i == i2 or al[i] == 0 or al[i2] == 0:
                continue
            coef = ak[i2] / al[i2] - ak[i] / al[i]
            rhs = hi[:, i2] / al[i2] - lo[:, i] / al[i]
            if coef > 1e-12:
                kh = np.minimum(kh, rhs / coef)
            elif coef < -1e-12:
                kl = np.maximum(kl, rhs / coef)
            else:
                ok &= rhs >= -eps
    k_lo = np.ceil(kl - 1e-6)
    width = np.where(ok, np.maximum(np.floor(kh + 1e-6) - k_lo + 1, 0), 0).astype(np.int64)
    sel = np.nonzero(width > 0)[0]
    counts = width[sel]
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    start = np.repeat(np.cumsum(counts) - counts, counts)
    fi = np.repeat(fr[sel], counts)
    nk = np.repeat(k_lo[sel], counts) + (np.arange(total) - start)
    return fi, np.stack([np.repeat(nj[sel], counts), nk], axis=1)


def _windows(target: np.ndarray, tol: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wanted = target > _EPS
    return np.where(wanted, target, 0.0), np.where(wanted, target * (1.0 + tol), cap)


def plan_split_batch(
    catalogue: Catalogue,
    basal_kg: np.ndarray,
    topdress_kg: np.ndarray,
    tolerance: float | tuple[float, float, float] = 0.10,
    max_products: int | None = 3,
    chloride_sensitive: bool = False,
    zero_target_cap_kg: float | np.ndarray = 0.0,
    basal_n_max_share: float | None = None,
) -> dict[str, np.ndarray]:
    """Vectorised :func:`.blend.plan_split` for (n, 3) whole-field targets. Returns arrays
    ``basal_bags``, ``topdress_bags`` (n, m), ``cost`` (n,), ``feasible`` (n,)."""
    basal = np.asarray(basal_kg, dtype=float)
    top = np.asarray(topdress_kg, dtype=float)
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), (3,))
    cap = np.broadcast_to(np.asarray(zero_target_cap_kg, dtype=float), basal.shape[:1] + (3,))
    if np.ndim(zero_target_cap_kg) == 1 and np.shape(zero_target_cap_kg)[0] == basal.shape[0]:
        cap = np.repeat(np.asarray(zero_target_cap_kg, dtype=float)[:, None], 3, axis=1)
    lo_b, up_b = _windows(basal, tol, cap)
    if basal_n_max_share is not None:
        total_n = basal[:, 0] + top[:, 0]
        up_b[:, 0] = np.maximum(up_b[:, 0], basal_n_max_share * total_n)
    b_bags, b_cost, b_ok = solve_bounds(
        catalogue, lo_b, up_b, max_products, chloride_sensitive, prefer_n=basal_n_max_share is not None
    )
    if basal_n_max_share is not None:
        delivered_n = b_bags @ catalogue.matrix[0]
        top = top.copy()
        top[:, 0] = np.maximum(0.0, basal[:, 0] + topdress_kg[:, 0] - delivered_n)
    lo_t, up_t = _windows(top, tol, cap)
    t_bags, t_cost, t_ok = solve_bounds(catalogue, lo_t, up_t, max_products, chloride_sensitive)
    ok = b_ok & t_ok
    return {
        "basal_bags": np.where(ok[:, None], b_bags, 0),
        "topdress_bags": np.where(ok[:, None], t_bags, 0),
        "cost": np.where(ok, b_cost + t_cost, 0.0),
        "feasible": ok,
    }
