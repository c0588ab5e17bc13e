"""Plots of an :class:`~rootgan.evaluation.report.Evaluation` in the style of HEP papers:
one figure per observable (step histograms of real and generated events with statistical
errors, and a generated/real ratio panel; log scales for spectra), and the per-pixel mean
and spread of the real and generated images with their differences. Every figure is
written as PNG and PDF, named after what it shows."""

import os

import numpy as np

from .distances import histogram, histogram_edges
from .report import histogram_name

FORMATS = ("png", "pdf")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(figure, out_dir, name):
    paths = []
    for extension in FORMATS:
        paths.append(os.path.join(out_dir, f"{name}.{extension}"))
        figure.savefig(paths[-1], dpi=110)
    return paths


def _latex(text):
    return text.replace("tau21", r"$\tau_{21}$").replace("pT", r"$p_T$")


def plot_evaluation(evaluation, out_dir, label="generated"):
    """Write every figure into ``out_dir`` (created if missing); returns the paths."""
    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    paths = _mean_images(plt, evaluation, out_dir, label)
    for observable in evaluation.real.observables:
        if observable.name not in evaluation.generated.events and \
                observable.name not in evaluation.generated.pooled:
            continue
        paths += _observable_figure(plt, evaluation, observable, out_dir, label)
    return paths


def _observable_figure(plt, evaluation, observable, out_dir, label):
    samples = (evaluation.real.values(observable.name),
               evaluation.generated.values(observable.name))
    edges = histogram_edges(observable, *samples)
    widths = np.diff(edges)
    shapes = []
    for values, weights in samples:
        counts, squares = histogram(values, weights, edges)
        total = weights.sum() if weights.sum() > 0 else 1.0
        shapes.append((counts / total / widths, np.sqrt(squares) / total / widths))
    (real, real_error), (ours, ours_error) = shapes
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 5.6), sharex=True, gridspec_kw={"height_ratios": (3, 1),
                                                              "hspace": 0.05})
    top.stairs(real, edges, fill=True, alpha=0.35, color="tab:blue", label="real")
    top.stairs(ours, edges, color="tab:red", linewidth=1.6, label=label)
    centres = (edges[1:] + edges[:-1]) / 2
    top.errorbar(centres, ours, ours_error, fmt="none", ecolor="tab:red", elinewidth=0.8)
    row = next((r for r in evaluation.rows if r.name == observable.name), None)
    if row is not None:
        top.set_title(f"W1 / floor = {row.ratio:.2f}", loc="right", fontsize=9)
    top.set_ylabel("normalised " + ("events" if not observable.pooled else "entries")
                   + " / bin width")
    top.legend(frameon=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(real > 0, ours / real, np.nan)
        ratio_error = np.where(real > 0, ratio * np.hypot(
            np.divide(ours_error, ours, out=np.zeros_like(ours), where=ours > 0),
            real_error / np.where(real > 0, real, 1)), np.nan)
    bottom.axhline(1, color="grey", linewidth=0.8)
    bottom.errorbar(centres, ratio, ratio_error, xerr=widths / 2, fmt="o", markersize=2.5,
                    color="tab:red", elinewidth=0.8)
    bottom.set_ylim(0, 2)
    bottom.set_ylabel(f"{label.split()[0]} / real")
    bottom.set_xlabel(_latex(observable.label()))
    if observable.log_scale:
        top.set_xscale("log")
        top.set_yscale("log")
    for axis in (top, bottom):
        axis.tick_params(direction="in", top=True, right=True)
    paths = _save(figure, out_dir, histogram_name(observable.name))
    plt.close(figure)
    return paths


def _pixel_statistics(measured, shape):
    """Weighted mean and standard deviation of every transverse pixel (summed over depth)."""
    pixels = measured.pixels.reshape((len(measured.pixels),) + shape).sum(axis=1)
    weights = measured.weights
    if weights.sum() <= 0:
        return np.zeros(shape[1:]), np.zeros(shape[1:])
    mean = np.average(pixels, axis=0, weights=weights)
    spread = np.sqrt(np.average((pixels - mean) ** 2, axis=0, weights=weights))
    return mean, spread


def _mean_images(plt, evaluation, out_dir, label):
    """Mean images (top row) and per-pixel spreads (bottom row): real, generated, and
    generated - real."""
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    geometry = evaluation.geometry
    rows, columns = geometry.shape[1:]
    statistics = [_pixel_statistics(m, geometry.shape)
                  for m in (evaluation.real, evaluation.generated)]
    if geometry.kind == "image":
        extent = (-0.5, columns - 0.5, -0.5, rows - 0.5)
    else:
        step_x = (geometry.x.max() - geometry.x.min()) / (columns - 1) if columns > 1 else 1.0
        step_y = (geometry.y.max() - geometry.y.min()) / (rows - 1) if rows > 1 else 1.0
        extent = (geometry.x.min() - step_x / 2, geometry.x.max() + step_x / 2,
                  geometry.y.min() - step_y / 2, geometry.y.max() + step_y / 2)
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.6), constrained_layout=True)
    unit = f" [{geometry.unit}]" if geometry.unit and geometry.unit != "pixels" else ""
    for row, what in enumerate(("mean", "spread")):
        real, ours = statistics[0][row], statistics[1][row]
        positive = np.concatenate([real[real > 0], ours[ours > 0]])
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4),
                       vmax=positive.max()) if positive.size else None
        for axis, image, title in zip(axes[row], (real, ours), ("real", label)):
            shown = axis.imshow(np.where(image > 0, image, np.nan), origin="lower",
                                norm=norm, extent=extent, cmap="viridis")
            count = len(evaluation.real if title == "real" else evaluation.generated)
            axis.set_title(f"per-pixel {what}, {title} ({count:,} events)")
        figure.colorbar(shown, ax=axes[row, :2], label=f"per-pixel {what}")
        difference = ours - real
        limit = np.abs(difference).max() or 1.0
        shown = axes[row, 2].imshow(difference, origin="lower", extent=extent, cmap="RdBu_r",
                                    norm=TwoSlopeNorm(0.0, -limit, limit))
        axes[row, 2].set_title(f"per-pixel {what}: {label} - real")
        figure.colorbar(shown, ax=axes[row, 2], label=f"difference of per-pixel {what}s")
    for axis in axes.ravel():
        axis.set_xlabel(geometry.axes[0] + unit)
        axis.set_ylabel(geometry.axes[1] + unit)
    paths = _save(figure, out_dir, "mean_images")
    plt.close(figure)
    return paths
