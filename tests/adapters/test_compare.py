"""The comparison: KS statistics, and log-errors that are small for a fitted profile and large for a wrong one."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from llm_simulator.adapters.latency.compare import compare, ks_at_quantiles, ks_two_sample
from llm_simulator.adapters.latency.fit import fit_profile
from llm_simulator.adapters.latency.formats import read_file
from llm_simulator.adapters.latency.measurement import Measurement, Metric
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES

SAMPLES = Path(__file__).parent / "samples"


def test_ks_two_sample() -> None:
    assert ks_two_sample([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    assert ks_two_sample([1.0, 2.0], [5.0, 6.0]) == 1.0
    assert ks_two_sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]) == pytest.approx(0.5)


def test_ks_at_published_quantiles() -> None:
    simulated = [float(i) for i in range(1, 101)]
    assert ks_at_quantiles(simulated, {0.5: 50.0, 0.9: 90.0}) == pytest.approx(0.0)
    assert ks_at_quantiles(simulated, {0.5: 80.0}) == pytest.approx(0.3)


def test_a_profile_fitted_to_data_compares_well_and_a_wrong_one_badly() -> None:
    rng = random.Random(2)
    ttft = [rng.lognormvariate(math.log(300.0), 0.3) for _ in range(3000)]
    gaps = [rng.lognormvariate(math.log(25.0), 0.15) for _ in range(3000)]
    m = Measurement(source="synthetic", format="test", ttft=Metric.from_samples(ttft), itl=Metric.from_samples(gaps))
    fitted = fit_profile(m).spec
    good = compare("fitted", fitted, m, seed=1)
    assert [c.name for c in good.metrics] == ["ttft", "itl"]
    for metric in good.metrics:
        assert metric.max_abs_log_error < 0.06
        assert metric.ks < 0.05
        assert metric.ks_kind == "two-sample"
    bad = compare("instant", BUILTIN_PROFILES["fast"], m, seed=1)
    ttft_bad = bad.metrics[0]
    assert ttft_bad.quantiles[0].log_error < -1.0  # fast's 50 ms against a measured 300 ms
    assert ttft_bad.ks > 0.9


def test_per_request_itl_means_are_compared_as_means() -> None:
    m = read_file(SAMPLES / "profile_export_aiperf.json")[0]
    result = compare("fitted", fit_profile(m).spec, m)
    names = {c.name: c for c in result.metrics}
    assert set(names) == {"ttft", "itl", "e2e"}
    assert names["ttft"].ks_kind == "at the published quantiles"
    assert abs(next(e for e in names["ttft"].quantiles if e.q == 0.5).log_error) < 0.05
    data = result.as_dict()
    assert data["metrics"]["itl"]["quantiles"][0]["q"] == 0.01
    assert "TTFT" in result.to_text() and "ln(sim/real)" in result.to_text()
