"""Least-cost whole-bag plans: optimality vs brute force, limits, filters, infeasibility."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest

from plugins.fertilizer.agronomy.blend import Catalogue, NoFeasiblePlan, Product, plan, plan_many, plan_split
from plugins.fertilizer.agronomy.nutrients import NPK


def P(sku, n, p, k, bag, price, chloride="none"):
    return Product(sku, NPK(n, p, k), bag, Decimal(price), chloride)


UREA = P("urea", 46, 0, 0, 40, "110")
DAP = P("dap", 18, 46, 0, 50, "190")
KCL = P("kcl", 0, 0, 60, 50, "160", "high")
SOP = P("sop", 0, 0, 50, 50, "210")
NPK15 = P("npk15", 15, 15, 15, 40, "150", "low")
SSP = P("ssp", 0, 12, 0, 50, "45")


def brute_force(products, targets, tol, max_products=None, cap=0.0):
    """Cheapest whole-bag plan by exhaustive enumeration (float cost) or None."""
    A = np.array([[p.bag_kg * p.grade.get(n) / 100 for p in products] for n in ("N", "P2O5", "K2O")])
    t = np.array(targets.as_tuple())
    lo = t
    hi = np.where(t > 0, t * (1 + tol), cap)
    ubs = []
    for j in range(len(products)):
        col = A[:, j]
        ubs.append(int(min(hi[i] / col[i] for i in range(3) if col[i] > 0) + 1e-9))
    best = None
    for n in itertools.product(*(range(u + 1) for u in ubs)):
        x = np.array(n, dtype=float)
        if max_products is not None and np.count_nonzero(x) > max_products:
            continue
        d = A @ x
        if np.all(d >= lo - 1e-9) and np.all(d <= hi + 1e-9):
            cost = sum(float(p.price_per_bag) * k for p, k in zip(products, n, strict=True))
            if best is None or cost < best - 1e-9:
                best = cost
    return best


def _random_catalogue(rng):
    """Urea, a P source, a K source and one compound with random bag sizes and prices."""
    p_src = [(18, 46, 0), (11, 52, 0), (0, 12, 0)][rng.integers(3)]
    k_src = [(0, 0, 60), (0, 0, 50)][rng.integers(2)]
    compound = [(15, 15, 15), (20, 10, 10), (12, 18, 12), (15, 18, 12)][rng.integers(4)]
    prods = []
    for k, grade in enumerate([(46, 0, 0), p_src, k_src, compound]):
        bag = float(rng.choice([25, 40, 50]))
        price = f"{rng.uniform(40, 220):.2f}"
        prods.append(P(f"p{k}", *grade, bag, price))
    return prods


def _random_case(seed):
    rng = np.random.default_rng(seed)
    products = _random_catalogue(rng)
    targets = NPK(float(rng.uniform(30, 90)), float(rng.uniform(15, 50)), float(rng.uniform(15, 50)))
    return products, targets, 0.3, [None, 3][seed % 2]


SEEDS = range(15)


def test_brute_force_cases_are_mostly_feasible():
    feasible = sum(brute_force(*_random_case(s)) is not None for s in SEEDS)
    assert feasible >= 10


@pytest.mark.parametrize("seed", SEEDS)
def test_plan_matches_brute_force(seed):
    products, targets, tol, max_products = _random_case(seed)
    expected = brute_force(products, targets, tol, max_products)
    cat = Catalogue(products)
    if expected is None:
        with pytest.raises(NoFeasiblePlan):
            plan(cat, targets, tol, max_products)
        return
    got = plan(cat, targets, tol, max_products)
    assert float(got.cost) == pytest.approx(expected, abs=1e-6)
    # the returned plan is consistent: cost from bags, nutrients within the window
    assert got.cost == sum((p.price_per_bag * got.bags.get(p.sku, 0) for p in products), Decimal(0))
    for n in ("N", "P2O5", "K2O"):
        t = targets.get(n)
        assert t - 1e-6 <= got.nutrients_kg.get(n) <= t * (1 + tol) + 1e-6
    if max_products is not None:
        assert len(got.bags) <= max_products


def test_simple_plan_exact():
    # targets N 100, P2O5 46, K2O 60 kg, tol 10 %:
    # 2 DAP = 18 N + 46 P2O5 (380); 2 KCl = 60 K2O (320); N still needs 82 -> urea 18.4 kg N/bag
    # 5 urea = 92 N -> N total 110 <= 110 ok (550).  Total 380 + 320 + 550 = 1250.
    cat = Catalogue([UREA, DAP, KCL, SOP])
    got = plan(cat, NPK(100, 46, 60), 0.10, 3)
    assert got.bags == {"urea": 5, "dap": 2, "kcl": 2}
    assert got.cost == Decimal("1250.00")
    assert got.nutrients_kg.as_tuple() == pytest.approx((110.0, 46.0, 60.0))
    assert brute_force([UREA, DAP, KCL, SOP], NPK(100, 46, 60), 0.10) == pytest.approx(1250.0)


def test_cost_is_decimal_from_price_per_bag():
    cat = Catalogue([P("u", 46, 0, 0, 50, "33.33")])
    got = plan(cat, NPK(60, 0, 0), 0.5, 1)  # 23 kg N per bag -> 3 bags = 69 kg
    assert got.bags == {"u": 3}
    assert got.cost == Decimal("99.99")
    assert isinstance(got.cost, Decimal)


def test_max_products_respected_and_costs_more():
    products = [UREA, DAP, KCL, NPK15, SSP]
    cat = Catalogue(products)
    targets = NPK(90, 60, 60)
    free = plan(cat, targets, 0.2, None)
    two = plan(cat, targets, 0.2, 2)
    assert len(two.bags) <= 2
    assert free.cost <= two.cost
    assert float(two.cost) == pytest.approx(brute_force(products, targets, 0.2, 2))
    assert float(free.cost) == pytest.approx(brute_force(products, targets, 0.2, None))
    # one product cannot do it (only 15-15-15 carries all three, and N must be 1.5x P)
    with pytest.raises(NoFeasiblePlan) as e:
        plan(cat, targets, 0.2, 1)
    assert e.value.code == "too_few_products"


def test_chloride_filter_excludes_chloride_products():
    # K2O window [60, 75]: 2 KCl (60 kg, 320) beats 3 SOP (75 kg, 630) unless chloride-sensitive
    cat = Catalogue([UREA, DAP, KCL, SOP, NPK15])
    normal = plan(cat, NPK(100, 46, 60), 0.25, 3)
    assert normal.bags.get("kcl") == 2
    sensitive = plan(cat, NPK(100, 46, 60), 0.25, 3, chloride_sensitive=True)
    assert "kcl" not in sensitive.bags and "npk15" not in sensitive.bags
    assert sensitive.bags.get("sop") == 3
    assert sensitive.cost > normal.cost
    assert "chloride_filter" in {r.code for r in sensitive.reasons}


def test_unknown_chloride_treated_as_containing():
    cat = Catalogue([UREA, DAP, P("k?", 0, 0, 50, 50, "100", "unknown")])
    with pytest.raises(NoFeasiblePlan) as e:
        plan(cat, NPK(50, 23, 25), 0.2, 3, chloride_sensitive=True)
    assert e.value.nutrient == "K2O"
    assert "忌氯" in e.value.message


def test_infeasible_no_carrier_names_nutrient():
    cat = Catalogue([UREA, DAP])
    with pytest.raises(NoFeasiblePlan) as e:
        plan(cat, NPK(100, 46, 60), 0.10, 3)
    assert e.value.nutrient == "K2O"
    assert e.value.code == "no_carrier"
    assert "K₂O" in e.value.message


def test_infeasible_tolerance_too_tight_for_whole_bags():
    # urea bag carries 18.4 kg N: 5 bags = 92, 6 bags = 110.4; window [100, 101] has no whole bag count
    cat = Catalogue([UREA, KCL])
    with pytest.raises(NoFeasiblePlan) as e:
        plan(cat, NPK(100, 0, 0), 0.01, 3)
    assert e.value.nutrient == "N"
    assert e.value.code == "tolerance_too_tight"


def test_infeasible_other_upper_bound_conflict():
    # only compound 15-15-15 (6 kg each per bag) carries P: 60 P2O5 needs 10 bags = 60 kg N,
    # but the N window is [20, 30]. Each nutrient alone is reachable, P2O5 under the N cap is not.
    cat = Catalogue([UREA, NPK15])
    with pytest.raises(NoFeasiblePlan) as e:
        plan(cat, NPK(20, 60, 60), 0.5, 3)
    assert e.value.nutrient == "P2O5"
    assert e.value.code == "conflicts_with_other_upper_bounds"


def test_zero_target_cap():
    # K2O not wanted: by default compounds carrying K are excluded ...
    cat = Catalogue([UREA, DAP, NPK15])
    got = plan(cat, NPK(60, 30, 0), 0.6, 3)
    assert "npk15" not in got.bags
    assert got.nutrients_kg.K2O == 0
    # ... with a cap they may be used up to that amount
    got = plan(Catalogue([NPK15]), NPK(12, 12, 0), 0.1, 3, zero_target_cap_kg=20)
    assert got.bags == {"npk15": 2} and got.nutrients_kg.K2O == pytest.approx(12)
    with pytest.raises(NoFeasiblePlan):
        plan(Catalogue([NPK15]), NPK(12, 12, 0), 0.1, 3)


def test_per_nutrient_tolerance():
    cat = Catalogue([UREA, DAP, KCL])
    with pytest.raises(NoFeasiblePlan):
        plan(cat, NPK(100, 46, 60), {"N": 0.01, "P2O5": 0.1, "K2O": 0.1}, 3)
    assert plan(cat, NPK(100, 46, 60), {"N": 0.1, "P2O5": 0.0, "K2O": 0.0}, 3).bags == {
        "urea": 5,
        "dap": 2,
        "kcl": 2,
    }


def test_nothing_to_apply():
    got = plan(Catalogue([UREA]), NPK(0, 0, 0))
    assert got.bags == {} and got.cost == Decimal("0.00")


def test_split_plan_basal_and_topdress():
    cat = Catalogue([UREA, DAP, KCL, NPK15])
    # basal: 2 DAP (18 N, 46 P2O5) + 1 urea (18.4 N) + 2 KCl; top-dress: 5 urea = 92 N
    split = plan_split(cat, NPK(36, 46, 60), NPK(92, 0, 0), 0.15, 3)
    assert split.topdress.bags == {"urea": 5}
    assert set(split.topdress.bags) == {"urea"}
    assert split.topdress.nutrients_kg.P2O5 == 0
    assert split.basal.nutrients_kg.K2O >= 60
    assert split.cost == split.basal.cost + split.topdress.cost


def test_catalogue_reused_across_fields():
    cat = Catalogue([UREA, DAP, KCL, SOP, NPK15, SSP])
    costs = [plan(cat, NPK(100, 46, 60).scale(a), 0.15, 3).cost for a in (0.5, 1.0, 2.0)]
    assert costs[0] < costs[1] < costs[2]


def test_catalogue_rejects_duplicate_sku():
    with pytest.raises(ValueError):
        Catalogue([UREA, UREA])


def test_split_plan_credits_basal_n_from_p_carrier():
    # basal P2O5 92 kg needs 4 DAP (9 kg N + 23 kg P2O5 per bag) = 36 kg N,
    # above the basal N window [20, 27] -> the strict split fails on P2O5
    cat = Catalogue([UREA, DAP, KCL])
    with pytest.raises(NoFeasiblePlan) as e:
        plan_split(cat, NPK(20, 92, 60), NPK(80, 0, 0), 0.35, 3)
    assert e.value.nutrient == "P2O5"
    # basal N may reach 0.8 x 100 = 80 kg: 4 DAP + 2 KCl; top-dress the remaining 100 - 36 = 64 kg N
    # -> urea window [64, 86.4] -> 4 bags x 18.4 = 73.6 kg
    split = plan_split(cat, NPK(20, 92, 60), NPK(80, 0, 0), 0.35, 3, basal_n_max_share=0.8)
    assert split.basal.bags == {"dap": 4, "kcl": 2}
    assert split.basal.nutrients_kg.N == pytest.approx(36.0)
    assert split.topdress.targets_kg.N == pytest.approx(64.0)
    assert split.topdress.bags == {"urea": 4}
    assert split.basal.nutrients_kg.N + split.topdress.nutrients_kg.N >= 100


def test_plan_many_reuses_catalogue_and_collects_failures():
    cat = Catalogue([UREA, DAP, KCL, SOP])
    targets = [NPK(100, 46, 60), NPK(100, 46, 60), NPK(100, 0, 0.0), NPK(64, 23, 30)]
    res = plan_many(cat, targets, 0.1, 3)
    assert res[0] is res[1]  # equal targets solved once
    assert res[0].bags == {"urea": 5, "dap": 2, "kcl": 2}
    # 100 kg N from urea alone (18.4 kg/bag) cannot land in [100, 110]
    assert isinstance(res[2], NoFeasiblePlan) and res[2].nutrient == "N"
    assert not isinstance(res[3], NoFeasiblePlan)


def test_identical_products_collapse_to_cheapest():
    dear = P("urea-dear", 46, 0, 0, 40, "130")
    cat = Catalogue([dear, UREA, DAP, KCL])
    got = plan(cat, NPK(100, 46, 60), 0.10, 3)
    assert "urea-dear" not in got.bags and got.bags["urea"] == 5


def test_solver_time_limit_is_a_no_plan_answer_not_an_error():
    """Out of time (a busy machine under the spring peak): a typed "no plan, try again" that callers
    already record on the plan, never an unhandled exception (it was a bare TimeoutError)."""
    from plugins.fertilizer.agronomy.blend import SolveTimeout

    cat = Catalogue([UREA, DAP, KCL, SOP, NPK15, SSP])
    with pytest.raises(NoFeasiblePlan) as caught:
        plan(cat, NPK(100, 46, 60), 0.10, 3, time_limit=0.0)
    assert isinstance(caught.value, SolveTimeout)
    assert caught.value.code == "solver_timeout" and "重试" in caught.value.message
