# SPDX-License-Identifier: MIT
# Draws concbench's figures (matplotlib, Agg backend) from the tables metrics.py computes.
import math
import os
import re
import warnings
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from fmt import finite, fmt_crossover, fmt_fetch_config, fmt_n, fmt_num, fmt_tick, fmt_time  # noqa: E402
from metrics import ALL_MODELS, config_rows, dim_label, model_order  # noqa: E402
from records import machine_line  # noqa: E402

# Every panel has a light grid and a 10-point title: plot.py draws inside matplotlib.rc_context(STYLE).
STYLE = {"axes.grid": True, "grid.alpha": 0.3, "axes.titlesize": 10}
MAX_LINES = 8            # lines per foreign panel before the rest are left out
_PALETTE = ["#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#17becf", "#bcbd22", "#6b3fa0", "#008080", "#e7298a"]  # no grey: the bounds are grey
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "d", "p"]
# One colour and marker per model, the same in every figure (grey circles for another).
MODEL_STYLE = defaultdict(lambda: ("#444444", "o"),
                          {m: (_PALETTE[i % len(_PALETTE)], _MARKERS[i % len(_MARKERS)])
                           for i, m in enumerate(ALL_MODELS)})
IDEAL = dict(color="black", linestyle="--", linewidth=1.2)    # what the injected latency allows
BOUND = dict(color="#888888", linestyle="--", linewidth=1, zorder=3)  # what the cores or schedule allow, on top
WRK = dict(color="#c0392b", linestyle="-.", linewidth=1.2)    # the fixture's capacity, measured by wrk
FLOOR = dict(color="black", marker="*", markersize=10, linestyle="none")  # one thread without libcurl (raw_http)


class Figures:
    def __init__(self, directory, context, footer_note, progress, spread=True):
        self.directory, self.progress = directory, progress
        self.footer = machine_line(context) + "  ·  " + footer_note
        self.spread = spread  # whether the run has repetitions to draw a spread from
        self.written = []

    def new(self, ncols, title, nrows=1, width=5.4, height=4.2):
        # at least 9 inches, so one-panel figures still fit their title and footer
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(9.0, width * ncols), height * nrows + 0.5),
                                 squeeze=False)
        fig.suptitle(title, fontsize=12, fontweight="bold")
        return fig, axes

    def save(self, fig, fname, title, shared_legend=False, bars="bars/bands min – max"):
        """Footer, layout, write. shared_legend: one legend for all panels, under them
        (for panels whose lines fill the plot area and share their models). bars: what the
        figure's bars show, said in the footer; None where it draws no spread."""
        footer = self.footer
        if self.spread:  # a run without repetitions says so in footer_note already
            footer += "; " + (bars or "medians only, no spread drawn")
        fig.text(0.5, 0.012, footer, ha="center", va="bottom", fontsize=7.5, color="#555555", wrap=True)
        bottom = 0.05
        if shared_legend:
            entries = {}
            for ax in fig.axes:
                for handle, label in zip(*ax.get_legend_handles_labels()):
                    entries.setdefault(label, handle)
            ncol = min(len(entries), 6)
            rows = -(-len(entries) // max(ncol, 1))
            bottom = 0.05 + (0.22 * rows + 0.08) / fig.get_size_inches()[1]
            fig.legend(list(entries.values()), list(entries.keys()), loc="lower center", ncol=ncol,
                       fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.045))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # tight_layout's "not compatible" chatter
            fig.tight_layout(rect=(0, bottom, 1, 0.95))
        fig.savefig(os.path.join(self.directory, fname), dpi=100)
        plt.close(fig)
        self.written.append((fname, title))


def _by_model(rows, x):
    for model in sorted(rows["model"].unique(), key=model_order):
        yield model, rows[rows["model"] == model].sort_values(x)


def _yerr(y, lo, hi):
    """Error bar lengths under and over y from the min and max; 0 where unknown."""
    y, lo, hi = (np.asarray(v, dtype=float) for v in (y, lo, hi))
    return np.nan_to_num(np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)]))


NUDGE_LINEAR = 0.035  # x units a model moves per slot on a linear axis (workers W)


def _errorbar(ax, model, x, y, lo, hi, linear=False, hollow=None, color=None, **kw):
    """Median with min-max bars, in the model's colour unless `color` is given. Each model on an
    axes is nudged sideways (alternating right and left) so equal results do not hide each other:
    by 2% a slot on a log axis, by NUDGE_LINEAR on a linear one (a percentage would move W = 4
    twice as far as W = 2). The points where `hollow` (a boolean per point) is true are drawn hollow."""
    model_color, marker = MODEL_STYLE[model]
    color = color or model_color
    slots = ax.__dict__.setdefault("_concbench_models", [])
    if model not in slots:
        slots.append(model)
    i = slots.index(model)
    step = ((i + 1) // 2) * (1 if i % 2 else -1)
    x = np.asarray(x, dtype=float)
    x = x + step * NUDGE_LINEAR if linear else x * 1.02 ** step
    kw.setdefault("label", model)
    y = np.asarray(y, dtype=float)
    ax.errorbar(x, y, yerr=_yerr(y, lo, hi), color=color, marker=marker, markersize=5, capsize=3, linewidth=1.4,
                **kw)
    if hollow is not None and np.any(hollow):
        hollow = np.asarray(hollow, dtype=bool)
        ax.plot(x[hollow], y[hollow], linestyle="none", marker=marker, markersize=5, color=color,
                markerfacecolor="white", zorder=3)


def _x_ticks(ax, ticks, fmt=fmt_num, base=2):
    """A log x axis (base None: linear) with a tick at each measured value, labelled where the
    label has room: the open loop's 15,000 and 20,000 once printed as one "15,00020,000"."""
    if base:
        ax.set_xscale("log", base=base)
    ticks = sorted(set(ticks))
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v) if _has_room(ax, ticks, fmt, v) else ""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _has_room(ax, ticks, fmt, v):
    """Whether tick v's label is drawn: asked at draw time, when the axes' width is known. Labels
    are taken 1, 2 and 5 times a power of ten first, then the others in order, each if it keeps
    a character's width from those taken (a label's width estimated at 0.6 em a character)."""
    em = ax.figure.dpi / 72 * FontProperties(size=matplotlib.rcParams["xtick.labelsize"]).get_size_in_points()
    x = ax.get_xaxis_transform().transform([(t, 0) for t in ticks])[:, 0]
    width = [0.6 * em * len(fmt(t)) for t in ticks]
    round_first = sorted(range(len(ticks)), key=lambda i: (not _one_two_five(ticks[i]), i))
    taken = []
    for i in round_first:
        if all(abs(x[i] - x[j]) >= (width[i] + width[j]) / 2 + 0.6 * em for j in taken):
            taken.append(i)
    return any(math.isclose(v, ticks[i], rel_tol=1e-9) for i in taken)


def _one_two_five(v):
    mantissa = v / 10 ** math.floor(math.log10(v)) if v > 0 else 0
    return any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1, 2, 5))


def _conc_axis(ax, concs):
    _x_ticks(ax, concs)
    ax.set_xlabel("concurrency C (at most C requests in flight)")


SHORT_NOTE = "hollow: fewer than 90% of min(N, C) in flight at once"


def _log_axis(ax, *values, fmt=fmt_num):
    """Log y axis labelled with fmt(value), fitted to the sequences `values` when given; within three
    decades (a latency axis from 10 ms to 1 s) the 2x and 5x ticks are labelled too, within two the
    3x (throughput from 1,600 to 40,000 had no label above 20,000), within one the
    1.5x, 3x and 7x as well, and within a factor of 4 (memory from 12 to 25 KiB) every 1.2x, 2.5x,
    4x, 6x and 8x besides, so a narrow range never shows one or two lonely ticks."""
    ax.set_yscale("log")
    v = np.concatenate([np.asarray(x, dtype=float) for x in values]) if values else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if len(v):
        ax.set_ylim(v.min() / 1.15, v.max() * 1.15)
    lo, hi = ax.get_ylim()
    ratio = hi / lo if lo > 0 else math.inf
    subs = ((1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0) if ratio < 4 else
            (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if ratio < 10 else (1.0, 2.0, 3.0, 5.0) if ratio < 100 else
            (1.0, 2.0, 5.0) if ratio < 1000 else (1.0,))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: fmt(value)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def draw_sum(figs, per_kernel, hw):
    """per_kernel: metrics.analyse_sum's "kernels"; the array kernel's read_line is drawn on its
    speedup panel."""
    kernels = [k for k in per_kernel if per_kernel[k]["speedup"] is not None]
    for what, title, ylabel in (("speedup", "speedup over seq", "speedup  T_seq / T_model"),
                                ("efficiency", "parallel efficiency", "efficiency  T_seq / (W · T_model)")
                                ) if kernels else ():
        figs.progress("rendering sum %s against workers" % what)
        fig, axes = figs.new(len(kernels), "sum: %s against workers" % title)
        for ax, kernel in zip(axes[0], kernels):
            _workers_panel(ax, what, per_kernel[kernel], hw)
            ax.set(ylabel=ylabel, title="kernel %s, n = %s" % (kernel, fmt_n(per_kernel[kernel]["n_w"])))
        # One legend under both panels: inside, it covered points (process_pool and fork at
        # W = 1 in the array panel).
        figs.save(fig, "sum_%s.png" % what, "sum: %s against workers" % what, shared_legend=True)

    kernels = [k for k in per_kernel if not per_kernel[k]["size"].empty]
    if not kernels:
        return
    figs.progress("rendering sum time against n")
    nmodels = max(per_kernel[k]["size"]["model"].nunique() for k in kernels)
    # the legend goes under each panel (lines fill the whole plot area), so make room
    fig, axes = figs.new(len(kernels), "sum: time against n (log-log), crossover with seq",
                         height=4.2 + 0.2 * nmodels)
    for ax, kernel in zip(axes[0], kernels):
        _size_panel(ax, per_kernel[kernel])
        ax.set(title="kernel %s, W = %s for parallel models; circles: crossover" % (kernel, per_kernel[kernel]["W"]))
    figs.save(fig, "sum_time_vs_n.png", "sum: time against n")


def _workers_panel(ax, what, info, hw):
    """One kernel's speedup or efficiency against W, with the bound the cores allow; a read_line
    (array only) adds memchr's read bandwidth to the speedup panel."""
    tab = info["speedup"]
    xs = np.array(sorted(set(tab["workers"]) | ({hw} if hw else set())), dtype=float)
    linear = xs[-1] / max(xs[0], 1) < 8
    for model, m in tab.groupby("model", sort=False):
        # seq, one point at W = 1 that every model's W = 1 sits beside, is drawn on top of them
        _errorbar(ax, model, m["workers"], m[what], m[what + "_lo"], m[what + "_hi"], linear=linear,
                  linestyle="none" if model == "seq" else "-", zorder=4 if model == "seq" else None)
    # The bound is what the cores allow: W workers on fewer hardware threads share
    # them, so the best speedup is min(W, hardware threads), and the best efficiency
    # (speedup per worker) falls as hardware threads / W past them.
    usable = np.minimum(xs, hw) if hw else xs
    if what == "speedup":
        ax.plot(xs, usable, **BOUND, label="ideal: min(W, hardware threads)")
        line = info["read_line"]
        if line:
            # models that pass it show that memchr did not read as fast as the machine can;
            # grey diamonds on top: the line runs where the ideal and the models' lines do
            ax.plot(list(line), list(line.values()), color="#555555", linestyle="-.", marker="D",
                    markersize=6, linewidth=1.2, zorder=4,
                    label="memchr's read bandwidth at W / seq's (measured, not a bound)")
    else:
        ax.plot(xs, usable / xs, **BOUND, label="ideal: min(W, hardware threads) / W")
        ax.set_ylim(0, np.fmax(1.15, tab["efficiency_hi"].max() * 1.08))
    if hw is not None:
        ax.axvline(hw, color="#c0392b", linestyle=":", linewidth=1.3, label="hardware threads (%d)" % hw)
        if xs[-1] > hw:
            # from halfway to the next W, so no nudged point at W = hw lies in it
            start = (hw + xs[xs > hw][0]) / 2 if linear else math.sqrt(hw * xs[xs > hw][0])
            ax.axvspan(start, xs[-1] + 5 * NUDGE_LINEAR if linear else xs[-1] * 1.12,
                       color="#c0392b", alpha=0.06, label="oversubscribed")
    _x_ticks(ax, xs, base=None if linear else 2)
    ax.set(xlabel="workers W")


def _size_panel(ax, info):
    """One kernel's time against n per model, log-log, each crossover with seq circled on seq's line."""
    size, cross = info["size"], info["cross"]
    cross = cross.set_index("model") if cross is not None else pd.DataFrame()
    seq = size[size["model"] == "seq"].sort_values("n")
    for model, m in _by_model(size, "n"):
        color, marker = MODEL_STYLE[model]
        label = model + (" (W=1)" if model == "seq" else "")
        if model in cross.index:
            c = cross.loc[model]
            label += ": crossover %s, %s at n = %s" % (
                fmt_crossover(c["crossover"]), fmt_time(c["t_small"]),
                fmt_n(c["n_small"]) if finite(c["n_small"]) else "?")
            if finite(c["crossover"]) and len(seq):
                # where the model's line meets seq's: on seq's curve, in log-log space
                y = math.exp(np.interp(math.log(c["crossover"]), np.log(seq["n"]), np.log(seq["t_med"])))
                ax.plot([c["crossover"]], [y], marker="o", markersize=9, markerfacecolor="none",
                        markeredgecolor=color, markeredgewidth=1.6, linestyle="none")
        ax.fill_between(m["n"], m["t_min"], m["t_max"], color=color, alpha=0.15, linewidth=0)
        ax.plot(m["n"], m["t_med"], color=color, marker=marker, markersize=4, linewidth=1.4, label=label)
    ax.set_xscale("log")
    _log_axis(ax, fmt=fmt_tick)
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.set(xlabel="n (elements summed)", ylabel="wall time per call")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)


def draw_fetch(figs, info):
    """Time above the ideal per model and efficiency against C per latency, the latency panels,
    throughput and memory."""
    fetch, cfg, delays = info["frame"], info["cfg"], info["delays"]
    if delays:  # none without a configuration
        every = pd.concat([config_rows(fetch, cfg, d) for d in delays])
        figs.progress("rendering fetch time above the ideal and efficiency against concurrency")
        _draw_over_ideal(figs, every, cfg, delays, info["floor"])
        _draw_efficiency(figs, fetch, cfg, delays, info["floor"])
        if {"p50_ms", "p99_ms"} <= set(fetch.columns):
            _draw_latency(figs, every, cfg, delays)
    _draw_throughput_memory(figs, info)


def _draw_efficiency(figs, fetch, cfg, delays, floors):
    """Every model's efficiency against C on one axis per injected latency, with the client floor."""
    fig, axes = figs.new(len(delays), "fetch: efficiency (ideal / measured) against concurrency\n%s"
                         % fmt_fetch_config(cfg), height=4.8)
    for ax, delay in zip(axes[0], delays):
        rows = config_rows(fetch, cfg, delay)
        for model, m in _by_model(rows, "conc"):
            _errorbar(ax, model, m["conc"], m["eff"], m["eff_lo"], m["eff_hi"], hollow=m["short"])
        floor = floors.get(delay)
        if floor is not None and floor["efficiency"].notna().any():
            ax.plot(floor["arg_conc"], floor["efficiency"], **FLOOR, label="one thread without libcurl (peak/raw_http)")
        ax.axhline(1.0, **BOUND, label="ideal (1.0)")
        ax.set_ylim(0, np.fmax(1.1, rows["eff_hi"].max() * 1.08))
        ax.set_ylabel("efficiency")
        _conc_axis(ax, rows["conc"])
        short = "; " + SHORT_NOTE if rows["short"].any() else ""
        ax.set_title("injected latency L = %g ms%s" % (delay, short), fontsize=9)
    figs.save(fig, "fetch_efficiency.png", "fetch: efficiency against concurrency", shared_legend=True)


DELAY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")  # one per injected latency in the small multiples


def _model_panels(figs, rows, title, ylabel, draw):
    """Small multiples: one panel per model in rows (five to a row), draw(ax, model) in each, on
    shared axes so panels compare at a glance. Returns (fig, the panels in use)."""
    models = sorted(rows["model"].unique(), key=model_order)
    ncols = min(5, len(models))
    nrows = -(-len(models) // ncols)
    fig, axes = figs.new(ncols, title, nrows=nrows, width=3.3, height=3.0)
    panels = axes.flatten()
    top_conc = rows["conc"].max()
    for i, (ax, model) in enumerate(zip(panels, models)):
        draw(ax, model)
        _conc_axis(ax, rows["conc"])
        ax.set_title(model)
        own_top = rows.loc[rows["model"] == model, "conc"].max()
        if own_top < top_conc:  # an empty right half: a sweep's limit or errored runs, not a lost line
            ax.text(0.97, 0.5, "no result\nabove C = %s" % fmt_num(own_top), transform=ax.transAxes, ha="right",
                    va="center", fontsize=8, color="#555555", zorder=5,  # over the other models' lines
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.5))
        if i:  # one x range too: a model whose sweep stopped early kept a narrower one of its own
            ax.sharey(panels[0])
            ax.sharex(panels[0])
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        # only the bottom panel of each column names the x axis, briefly: the long name overran the last
        ax.set_xlabel("" if i + ncols < len(models) else "concurrency C")
    for ax in panels[len(models):]:
        ax.set_visible(False)
    return fig, panels[:len(models)]


def _draw_over_ideal(figs, rows, cfg, delays, floors):
    """Small multiples of the time above the ideal (measured - ideal) against C, one panel per model,
    one colour per injected latency, the other models in grey behind: ten models within a few percent
    of the ideal on one wall-time axis could not be told apart, and the efficiency figure already
    has them all on one axis. floors: {L: peak/raw_http rows}, drawn in every panel."""
    colours = dict(zip(delays, DELAY_COLOURS))
    values = pd.concat([rows["over_ideal_lo"], rows["over_ideal_hi"]]
                       + [f["over_ideal"] for f in floors.values()]).dropna()
    under = (values <= 0).any()  # a run at or under its ideal (noise): a log axis would drop it

    def draw(ax, model):
        for _, other in rows[rows["model"] != model].groupby(["model", "delay_ms"]):
            other = other.sort_values("conc")
            ax.plot(other["conc"], other["over_ideal"], color="#d0d0d0", linewidth=1, zorder=1)
        for delay in delays:
            m = rows[(rows["model"] == model) & (rows["delay_ms"] == delay)].sort_values("conc")
            _errorbar(ax, model, m["conc"], m["over_ideal"], m["over_ideal_lo"], m["over_ideal_hi"],
                      hollow=m["short"], color=colours[delay], label="L = %g ms" % delay)
            floor = floors.get(delay)
            if floor is not None and floor["over_ideal"].notna().any():
                ax.plot(floor["arg_conc"], floor["over_ideal"], **FLOOR,
                        label="one thread without libcurl (peak/raw_http)")
        if under:
            ax.axhline(0, **IDEAL, label="the ideal (measured = ideal)")

    short = "; " + SHORT_NOTE if rows["short"].any() else ""
    fig, panels = _model_panels(figs, rows, "fetch: time above the ideal ceil(N/C)·L against concurrency\n%s%s"
                                % (fmt_fetch_config(cfg), short), "measured − ideal", draw)
    if under:  # linear as far from 0 as the furthest run under its ideal (the noise), log beyond
        noise = max(-values.min(), 1e-6)
        panels[0].set_yscale("symlog", linthresh=noise)
        panels[0].set_ylim(-noise * 1.15, max(values.max(), noise) * 1.15)
        panels[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_tick(v) if v else "0"))
    else:
        _log_axis(panels[0], values, fmt=fmt_tick)
    if len(panels) > 1:
        panels[0].plot([], [], color="#d0d0d0", linewidth=1, label="the other models")
    figs.save(fig, "fetch_time.png", "fetch: time above the ideal against concurrency", shared_legend=True)


def _draw_latency(figs, rows, cfg, delays):
    """Small multiples: one panel per model, p50 (solid) and p99 (dashed) against C, one colour
    per injected latency, on one shared log axis."""
    figs.progress("rendering fetch latency")
    colours = dict(zip(delays, DELAY_COLOURS))

    def draw(ax, model):
        for delay in delays:
            m = rows[(rows["model"] == model) & (rows["delay_ms"] == delay)].sort_values("conc")
            for q, style in (("p50_ms", "-"), ("p99_ms", "--")):
                if m[q].notna().any():
                    ax.errorbar(m["conc"], m[q], yerr=_yerr(m[q], m[q + "_min"], m[q + "_max"]),
                                color=colours[delay], linestyle=style, marker=".", capsize=2, linewidth=1.2,
                                label="L = %g ms" % delay if q == "p50_ms" else None)
            ax.axhline(delay, color=colours[delay], linestyle=":", linewidth=0.8)

    fig, panels = _model_panels(figs, rows, "fetch: per-request latency from ready to answered, p50 (solid) "
                                "and p99 (dashed)\n%s" % fmt_fetch_config(cfg), "latency (ms)", draw)
    _log_axis(panels[0], *(rows[c] for c in ("p50_ms", "p99_ms", "p50_ms_min", "p99_ms_max") if c in rows), delays)
    # The key to the line styles, which the colour-per-L entries alone leave to the title.
    for style, label in (("-", "p50"), ("--", "p99"), (":", "L itself: no request is answered sooner")):
        panels[0].plot([], [], color="#444444", linestyle=style, linewidth=1.2, label=label)
    figs.save(fig, "fetch_latency.png", "fetch: per-request latency", shared_legend=True)


def _draw_throughput_memory(figs, info):
    """Requests per second at L = 0, and memory per request in flight at the largest latency:
    one configuration each, so every bar is the spread of one benchmark's repetitions."""
    panels = []
    if info["rate0"] is not None:
        panels.append(("throughput at L = 0 ms\n" + fmt_fetch_config(info["cfg0"]), info["rate0"],
                       "items_per_second", "requests per second", "short"))
    if info["memory"] is not None:  # hollow where the requests memory is divided by fell short
        panels.append(("memory per request in flight at L = %g ms\n%s"
                       % (info["delays"][-1], fmt_fetch_config(info["cfg"])),
                       info["memory"], "mem_per_inflight_kb", "KiB per request in flight", "mem_short"))
    if not panels:
        return
    figs.progress("rendering fetch throughput and memory")
    fig, axes = figs.new(len(panels), "fetch: throughput and memory against concurrency",
                         height=4.8, width=6.0)
    for ax, (title, rows, col, ylabel, short) in zip(axes[0], panels):
        for model, m in _by_model(rows, "conc"):
            _errorbar(ax, model, m["conc"], m[col], m[col + "_min"], m[col + "_max"], hollow=m[short])
        _conc_axis(ax, rows["conc"])
        _log_axis(ax, rows[col + "_min"], rows[col + "_max"])
        ax.set(ylabel=ylabel, title=title + ("\n" + SHORT_NOTE if rows[short].any() else ""))
    figs.save(fig, "fetch_throughput_memory.png", "fetch: throughput and memory", shared_legend=True)


def draw_c10k(figs, info):
    """C10k: requests/s against C from 1 to 10,000 (left, the most requests measured at each C)
    with the ideal C / L, the fixture's capacity (wrk) and the client floor (peak/raw_http, stars);
    wall time at the sweep's N against C from 1000 (right) with the ideal ceil(N/C)·L."""
    curve, sweep, floor, delay, wrk = (info[k] for k in ("curve", "sweep", "floor", "delay_ms", "wrk"))
    figs.progress("rendering the C10k sweep")
    fig, axes = figs.new(2, "fetch, C10k: where each model breaks (L = %g ms, keep-alive, 1 KiB)" % delay,
                         width=6.0, height=4.8)
    ax, bx = axes[0]
    # A model left out of the sweep has only N = 1000 at C = 1000, one wave where the others had
    # ten: hollow, as its rate is not comparable with theirs there.
    most = curve.groupby("conc")["n"].transform("max")
    for model, m in _by_model(curve.assign(fewer=curve["n"] < most), "conc"):
        color, marker = MODEL_STYLE[model]
        fewer = m["fewer"].to_numpy()
        # the labelled line carries the filled markers, so the legend shows each model's marker
        ax.plot(m["conc"], m["rps"], color=color, linewidth=1.3, marker=marker, markersize=5,
                markevery=[i for i, f in enumerate(fewer) if not f], label=model)
        ax.plot(m["conc"][fewer], m["rps"][fewer], linestyle="none", marker=marker, markersize=5, color=color,
                markerfacecolor="white")
    for model, s in _by_model(sweep, "conc"):
        _errorbar(bx, model, s["conc"], s["t_med"], s["t_min"], s["t_max"], hollow=s["short"], label=None)
    ideal_rps = curve.groupby("conc")["ideal_rps"].first()
    ax.plot(ideal_rps.index, ideal_rps.values, **IDEAL, label="ideal  C / L")
    if wrk:  # at the C wrk ran at: its rate differs with C, so no one level is the fixture's at every C
        cs = sorted(wrk)
        ax.plot(cs, [wrk[c] for c in cs], **WRK, marker="x", markersize=8, markeredgewidth=1.5,
                label="the fixture's capacity at 0 ms (wrk, at each C it ran at)")
    if not floor.empty:
        ax.plot(floor["arg_conc"], floor["rps"], **FLOOR,
                label="one thread without libcurl, N = C = %s (peak/raw_http)" % fmt_num(info["n"]))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_num(v)))  # 1,000 as on the right, not 10^3
    _log_axis(ax, curve["rps"], list(wrk.values()), floor["rps"])
    ax.set(xlabel="concurrency C (at most C requests in flight)", ylabel="requests/s",
           title="throughput against C; hollow: fewer requests than the others at that C")
    ideal = sweep.groupby("conc")["ideal"].median()
    bx.plot(ideal.index, ideal.values, **IDEAL)
    bx.plot(floor["arg_conc"], floor["t_med"], **FLOOR)
    _x_ticks(bx, sweep["conc"], fmt_num, base=10)
    _log_axis(bx, sweep["t_min"], sweep["t_max"], ideal, floor["t_med"], fmt=fmt_tick)
    bx.set(xlabel="concurrency C", ylabel="wall time for %s requests" % fmt_num(info["n"]),
           title="N = %s: dashed, the ideal ceil(N/C)·L%s"
           % (fmt_num(info["n"]), ";\n" + SHORT_NOTE if sweep["short"].any() else ""))
    figs.save(fig, "fetch_c10k.png", "fetch, C10k: throughput and wall time against concurrency",
              shared_legend=True, bars="left: medians only; right: bars min – max")


def draw_open(figs, info):
    """Open loop, the classic figure: p50 (solid) and p99 (dashed) latency against offered load,
    hollow markers where the model fell behind its schedule; beside it, what each model
    achieved against what was offered, with the fixture's own capacity (wrk) as the bound."""
    f, bound = info["frame"], info["bound"]
    delays = sorted(f["delay_ms"].unique())
    figs.progress("rendering the open-loop sweep")
    fig, axes = figs.new(2, "fetch, open loop: latency and throughput against offered load (L = %s ms, at most "
                         "C = %s in flight)" % ("/".join("%g" % d for d in delays), fmt_num(bound["conc"])),
                         width=6.0, height=4.8)
    ax, bx = axes[0]
    for model, m in _by_model(f, "rate"):
        color, marker = MODEL_STYLE[model]
        behind = m["keeping_up"] < 1
        for col, style, label in (("p50_ms", "-", model), ("p99_ms", "--", None)):
            ax.plot(m["rate"], m[col], color=color, linestyle=style, linewidth=1.3, label=label)
            for sel, face in ((~behind, color), (behind, "none")):
                ax.plot(m["rate"][sel], m[col][sel], linestyle="none", marker=marker, markersize=5,
                        color=color, markerfacecolor=face)
        bx.plot(m["rate"], m["achieved_rate"], color=color, marker=marker, markersize=5, linewidth=1.3)
    rates = sorted(f["rate"].unique())
    for d in delays:
        ax.axhline(d + 10, color="#888888", linestyle=":", linewidth=1, label="L + 10 ms: within capacity")
    bx.plot(rates, rates, **BOUND, label="achieved = offered")
    wrk = [bound["wrk_rps"]] if bound["wrk_rps"] else []
    if wrk:  # at the open loop's C: wrk's rate differs with C, so its best at another C is no bound here
        bx.axhline(wrk[0], **WRK, label="the fixture's capacity at C = %s, %s ms (wrk%s)" % (
            fmt_num(bound["wrk_conc"]), fmt_num(bound["wrk_delay_ms"]), "" if bound["wrk_conc"] == bound["conc"]
            else "; not run at the open loop's C = %s" % fmt_num(bound["conc"])))
    for a in (ax, bx):
        _x_ticks(a, rates, fmt_num, base=10)  # the offered rates themselves
        a.set_xlabel("offered rate (requests/s)")
    _log_axis(ax, f["p50_ms"], f["p99_ms"])
    ax.set(ylabel="latency from arrival (ms)", title="p50 solid, p99 dashed (as in the latency figure); "
           "hollow: fell behind")
    _log_axis(bx, f["achieved_rate"], rates, wrk)
    bx.set(ylabel="achieved rate (requests/s)", title="what each model issued")
    figs.save(fig, "fetch_open.png", "fetch, open loop: latency against offered load", shared_legend=True,
              bars=None)


def draw_seed(figs, seed, python_elsewhere):
    """The blog's times, this run's and the Python port's on this machine (or, python_elsewhere,
    another one's), per experiment."""
    if all(r["cpp_s"] is None and r["python_s"] is None for r in seed):
        return
    figs.progress("rendering the seed comparison")
    fig, axes = figs.new(1, "The seed's experiments: blog (Python) vs this run", width=10, height=4.6)
    ax = axes[0][0]
    h = 0.26
    ys = np.arange(len(seed))[::-1]
    # Points, not bars: on a log axis a bar's length says nothing. Whiskers: min - max of the
    # repetitions, for both series measured here (the blog gives one number).
    for j, (label, col, color, marker) in enumerate([
            ("blog (Python)", "blog_s", "#999999", "D"), ("C++, this run", "cpp_s", "#1f77b4", "o"),
            ("Python, %s machine" % ("another" if python_elsewhere else "this"), "python_s", "#ff7f0e", "s")]):
        labelled = False  # on the series' first point, whichever row has it
        for y, r in zip(ys + (1 - j) * h, seed):
            v = r[col]
            if v is None:
                ax.text(0.005, y, "not run", va="center", fontsize=7, color=color,
                        transform=ax.get_yaxis_transform())
                continue
            spread = r.get(col.replace("_s", "_spread"))
            if spread:
                ax.plot(spread, [y, y], color=color, linewidth=1.5)
            ax.plot([v], [y], linestyle="none", marker=marker, markersize=7, color=color,
                    label=None if labelled else label)
            labelled = True
            ax.text(max(v, spread[1] if spread else v) * 1.15, y, fmt_time(v), va="center", fontsize=7)
    # below the axes: inside, a slow bottom row (a sequential fetch) would sit under it
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    ax.set_yticks(ys, [r["experiment"] for r in seed], fontsize=8.5)
    ax.set(xscale="log", xlabel="wall time (log scale)")
    values = [r[c] for r in seed for c in ("blog_s", "cpp_s", "python_s") if r[c]]
    ax.set_xlim(min(values) / 4, max(values) * 6)  # room for the value labels
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_tick(v)))
    ax.grid(False, axis="y")
    figs.save(fig, "seed.png", "The seed's experiments", bars="whiskers min – max")


def draw_foreign(figs, plans):
    """Other programs' benchmarks: per family, time against its first varying argument, one
    line per value of the others. Returns [(family, file, notes)] for the page."""
    out = []
    for plan in plans:
        family, (x, *others), rows = plan["family"], plan["dims"], plan["rows"]
        title = "%s: time against %s" % (family, dim_label(x)) + (
            " (lines: %s)" % ", ".join(dim_label(d) for d in others) if others else "")
        figs.progress("rendering " + title)
        fig, axes = figs.new(1, title, width=7.0)
        ax = axes[0][0]
        groups = [((), rows)]
        if others:
            groups = list(rows.groupby(others if len(others) > 1 else others[0], dropna=False))
        notes = ["%d of %d lines shown" % (MAX_LINES, len(groups))] if len(groups) > MAX_LINES else []
        for i, (key, g) in enumerate(groups[:MAX_LINES]):
            key = key if isinstance(key, tuple) else (key,)
            g = g.sort_values(x)
            ax.errorbar(g[x].astype(float), g["t_med"], yerr=_yerr(g["t_med"], g["t_min"], g["t_max"]),
                        marker=_MARKERS[i % len(_MARKERS)], color=_PALETTE[(i + 1) % len(_PALETTE)],
                        capsize=3, markersize=4, label=", ".join(
                            "%s=%s" % (dim_label(d), fmt_num(v)) for d, v in zip(others, key)) or family)
        xs = rows[x].astype(float)
        log2 = (xs > 0).all() and xs.max() / xs.min() >= 16
        if xs.nunique() <= 12:  # label the measured values themselves, not powers of two
            _x_ticks(ax, xs, fmt_num, base=2 if log2 else None)
        elif log2:
            ax.set_xscale("log", base=2)
        if (rows["t_min"] > 0).all() and rows["t_max"].max() / rows["t_min"].min() >= 10:
            _log_axis(ax, rows["t_min"], rows["t_max"], fmt=fmt_tick)  # labelled ticks, not one 10^k
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_tick(v)))
        ax.set(xlabel=dim_label(x), ylabel="real time per iteration")
        if others:  # below the axes, as in every figure: inside, "best" can still cover a line
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        # families whose names differ only in characters a file name cannot hold get numbered
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", family).strip("_")[:60] or "family"
        fname, k = "foreign_%s.png" % stem, 2
        while fname in dict(figs.written):
            fname, k = "foreign_%s_%d.png" % (stem, k), k + 1
        figs.save(fig, fname, title)
        out.append((family, fname, notes))
    return out
