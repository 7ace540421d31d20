"""Big-data figure reductions work block by block and give the one-pass answer."""
import numpy as np
import pytest

from lsqfit_app.report import figures, reduction


def _data(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 7.0, n)
    y = np.round(rng.normal(0.0, 1.0, n), 1)  # rounded: many ties within a column
    y[rng.choice(n, 30, replace=False)] = np.nan
    x[rng.choice(n, 30, replace=False)] = np.inf
    y[rng.choice(n, 5, replace=False)] += 50.0  # outliers
    return x, y


@pytest.mark.parametrize("block", [997, 4096])
def test_column_extremes_blocks_match_one_pass(monkeypatch, block):
    x, y = _data(11, 30_000)
    monkeypatch.setattr(reduction, "BLOCK", 10 ** 9)
    whole = reduction.column_extremes(x, y, columns=300)
    monkeypatch.setattr(reduction, "BLOCK", block)
    blocked = reduction.column_extremes(x, y, columns=300)
    np.testing.assert_array_equal(blocked, whole)
    assert np.all(np.isfinite(x[blocked]) & np.isfinite(y[blocked]))
    # every outlier is kept
    assert set(np.flatnonzero(y > 40)) <= set(blocked.tolist())


def test_column_extremes_ties_first_low_last_high(monkeypatch):
    monkeypatch.setattr(reduction, "BLOCK", 100)
    n = 1000
    x = np.linspace(0.0, 1.0, n)
    y = np.zeros(n)
    # one column: every y equal -> first row is the lowest, last the highest
    keep = reduction.column_extremes(x, y, columns=1)
    np.testing.assert_array_equal(keep, [0, n - 1])


def test_density_blocks_match_histogram2d(monkeypatch):
    x, y = _data(12, 20_000)
    finite = np.isfinite(x) & np.isfinite(y)
    bounds = (float(x[finite].min()), float(x[finite].max()),
              float(y[finite].min()), float(y[finite].max()))
    expect, _, _ = np.histogram2d(x[finite], y[finite], bins=reduction.DENSITY_BINS,
                                  range=(bounds[:2], bounds[2:]))
    monkeypatch.setattr(reduction, "BLOCK", 1234)
    np.testing.assert_array_equal(reduction.density_counts(x, y, finite, bounds), expect)
    assert reduction.masked_range(x, finite) == bounds[:2]


def test_density_image_is_log_scaled_colour_with_empty_cells_clear():
    counts = np.array([[0.0, 1.0], [10.0, 100.0]])
    rgba = reduction.density_rgba(counts, "#0072B2")
    assert rgba.dtype == np.uint8 and rgba.shape == (2, 2, 4)
    assert rgba[0, 0, 3] == 0                       # empty: transparent
    np.testing.assert_array_equal(rgba[0, 1], [217, 217, 217, 255])  # one point: light grey
    np.testing.assert_array_equal(rgba[1, 1], [0, 114, 178, 255])    # the most: the colour
    # ten points sit halfway on the log scale between one and a hundred
    np.testing.assert_allclose(rgba[1, 0, :3], np.round((np.array([217, 217, 217])
                                                          + np.array([0, 114, 178])) / 2), atol=1)


def test_qq_points_are_probplots_quantiles_and_presorted_gives_the_same():
    from scipy import stats

    rng = np.random.default_rng(41)
    z = rng.standard_t(4, 57)
    (osm, osr), _ = stats.probplot(z)
    got_m, got_r = reduction.qq_points(z)
    np.testing.assert_allclose(got_m, osm, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got_r, osr)
    pre_m, pre_r = reduction.qq_points(np.sort(z), presorted=True)
    np.testing.assert_array_equal(pre_m, got_m)
    np.testing.assert_array_equal(pre_r, got_r)


def test_distribution_histogram_is_a_density(formula_fit):
    result, problem = formula_fit
    fig = figures.make_figure(result, problem, "distribution", draw=False)
    hist = fig.axes[0]
    area = sum(p.get_width() * p.get_height() for p in hist.patches)
    assert area == pytest.approx(1.0, rel=1e-12)


def test_report_figures_are_made_one_at_a_time(formula_fit, monkeypatch):
    # each figure is encoded and dropped before the next is drawn
    result, problem = formula_fit
    alive = []
    made = figures.make_figure

    def counting(*args, **kwargs):
        import gc
        import weakref

        gc.collect()
        alive.append(sum(1 for ref in refs if ref() is not None))
        fig = made(*args, **kwargs)
        refs.append(weakref.ref(fig))
        return fig

    refs: list = []
    monkeypatch.setattr(figures, "make_figure", counting)
    shown = list(figures.report_figures(result, problem, "png"))
    assert [f.key for f in shown] == ["fit", "residuals", "distribution", "history"]
    assert alive == [0, 0, 0, 0]
    assert all(f.data.startswith(b"\x89PNG") for f in shown)


def test_a_report_of_big_data_does_not_load_scipy_stats(tmp_path):
    # scipy.stats costs ~45 MB resident; the normal quantile comes from scipy.special
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from lsqfit_app.core.problem import FitProblem\n"
        "from lsqfit_app.models import make_model\n"
        "from lsqfit_app.solvers import fit\n"
        "from lsqfit_app.report import write_report\n"
        "rng = np.random.default_rng(5)\n"
        "x = np.linspace(0, 5, 6000); s = np.full(x.size, 0.05)\n"
        "y = 3*np.exp(-x/1.2) + 0.5 + rng.normal(0, 0.05, x.size)\n"
        "p = FitProblem.create(make_model('a*exp(-x/tau)+c'), x, y, sigma=s)\n"
        f"write_report(fit(p), p, {str(tmp_path / 'r.md')!r})\n"
        "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
