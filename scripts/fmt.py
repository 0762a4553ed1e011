# SPDX-License-Identifier: MIT
# How numbers read on the pages, in the figures and in the terminal: one formatter per kind of number.
import math
import re


def finite(x):
    """A real, finite number (not None, NaN, inf, a bool or a string)."""
    try:
        return not isinstance(x, (bool, str)) and x is not None and math.isfinite(x)
    except TypeError:
        return False


def _sig3(x):
    """x (already rounded to 3 significant digits) with the decimals that say so: 62.5, 24.0, 0.500."""
    return "%.*f" % (max(0, 2 - int(math.floor(math.log10(abs(x))))) if x else 0, x)


def fmt_time(seconds, micro="µs"):
    """Seconds with 3 significant digits in the unit that fits: 62.5 ms, 1.25 s. The terminal
    passes micro="us"."""
    if not finite(seconds):
        return "–"
    seconds = float("%.3g" % seconds)  # round first, so 0.99996 s reads 1.00 s, not 1000 ms
    scale, unit = time_unit(seconds, micro)
    return "%s %s" % (_sig3(seconds / scale), unit)


def time_unit(seconds, micro="µs"):
    """(scale, unit) a time reads in: the largest of s, ms, µs, ns that it reaches."""
    return next(((scale, unit) for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, micro))
                 if abs(seconds) >= scale), (1e-9, "ns"))


def fmt_n(n):
    """A size as mantissa-exponent (what a log axis reads like): 2.8e4, 1.0e5 for a value that rounds
    to it, 1e5 for exactly 100,000, as the sweeps' sizes are."""
    if not finite(n):
        return str(n)
    if n == 0:
        return "0"
    e = int(math.floor(math.log10(abs(n))))
    m = n / 10 ** e
    if round(m, 1) >= 10:
        m, e = m / 10, e + 1
    return "%de%d" % (round(m), e) if n == round(m) * 10 ** e else "%.1fe%d" % (m, e)


def _exp(text):
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)  # 7.19e9, 1.5e-7


def _separated(x):
    """x as 1,000 to 999,999 when it reads so rounded (999.7 too, not 1e3), else None."""
    return "{:,.0f}".format(x) if 999.5 <= abs(x) < 999999.5 else None


def fmt_num(x):
    """3 significant digits, thousands separated up to a million, then 1.69e10."""
    if not finite(x):
        return "–"
    return _separated(x) or _exp("%.3g" % x)


def fmt_measured(x):
    """A measured value in a table, to 3 significant digits: as fmt_num, but 73,589 reads 73,600
    (the run does not know the other two), and 24.0, 0.500 and 5.00e9 keep the zeros that say
    they are good to 3 digits, so a column does not read 24 beside 24.2. Counts and offered rates
    are exact: they use fmt_num."""
    if not finite(x):
        return "–"
    rounded = float("%.3g" % x)
    return _separated(rounded) or (_sig3(rounded) if rounded == 0 or 1e-3 <= abs(rounded) < 1000
                                   else _exp("%.2e" % x))


def fmt_ratio(x):
    """A ratio to 3 significant digits: 0.89×, 1.72×, 24.7× (not 24.65×), 1,230×."""
    if not finite(x):
        return "–"
    return "%.2f×" % x if abs(x) < 9.995 else fmt_measured(x) + "×"


def fmt_tick(seconds):
    """A time on an axis tick: fmt_time without the zeros, which an exact tick does not need to
    say its digits: 10 ms, 1.5 s, 200 µs (fmt_time's 10.0 ms, 1.50 s)."""
    return re.sub(r"\.(\d*?)0+(?= )", lambda m: "." + m.group(1) if m.group(1) else "", fmt_time(seconds))


def fmt_vs_bare(ratio, left_out, rounds=False):
    """A sum's time over its bare sum, and of how many rounds where some were left out (their bare
    sum's threads did not run at once): '0.89× (2 of 3)', or with `rounds` '0.89× (2 of 3 rounds)'."""
    if not left_out:
        return fmt_ratio(ratio)
    counted, of = left_out
    return "%s (%d of %s)" % (fmt_ratio(ratio), counted, plural(of, "round") if rounds else of)


def fmt_eff(x):
    return "%.2f" % x if finite(x) else "–"


def fmt_eff_against(threshold):
    """fmt_eff, with a third decimal where two would put a value below the threshold on it (0.948
    read "0.95" beside "no" for >= 0.95; a fetch efficiency of 0.9951, which the ideal bounds by 1,
    read "1.00"), rounded down where three would too (0.9499 reads 0.949)."""
    return lambda e: ("%.3f" % min(e, threshold - 0.001) if finite(e) and e < threshold <= round(e, 2)
                      else fmt_eff(e))


# A fetch efficiency: the ideal is a lower bound on the time, so it is below 1 and reads so.
fmt_fetch_eff = fmt_eff_against(1.0)


def fmt_crossover(c):
    """A crossover n, or the word that stands for it ("never", "below smallest")."""
    return fmt_n(c) if finite(c) else (c or "–")


def fmt_spread(lo, hi, reps):
    """min – max of `reps` runs; no default, so that no caller counts the runs by accident."""
    if reps < 2:
        return "– (1 run)"
    if not (finite(lo) and finite(hi)):
        return "–"
    lo, hi = fmt_time(lo), fmt_time(hi)
    # "1.62 s – 1.62 s" read as a typo: the runs agree to the digits shown.
    same = "%s (both runs)" % lo if reps == 2 else "%s (all %d runs)" % (lo, reps)
    return same if lo == hi else "%s – %s" % (lo, hi)


def fmt_bytes(n, units=(("GB", 1e9), ("MB", 1e6), ("kB", 1e3)), number=fmt_num):
    """n in the largest of `units` it reaches, else in bytes: buffer sizes in decimal, 800 MB."""
    for unit, scale in units:
        if n >= scale:
            return "%s %s" % (number(n / scale), unit)
    return "%d B" % n


def fmt_kib(n):
    """Cache sizes are powers of two: 48 KiB, 1.5 MiB."""
    return fmt_bytes(n, (("MiB", 2 ** 20), ("KiB", 2 ** 10)), lambda x: "%g" % round(x, 1))


def fmt_fetch_config(cfg):
    """A fetch configuration (metrics.pick_fetch_config) as text: N = 1,000, 1 KiB responses, keep-alive."""
    return ", ".join(["N = %s" % fmt_num(cfg["n"])]
                     + ([] if cfg["bytes"] is None else ["%s responses" % fmt_kib(cfg["bytes"])])
                     + ([] if cfg["keepalive"] is None else
                        ["keep-alive" if cfg["keepalive"] else "a connection per request"]))


def one_line(text):
    """Text whose lines and runs of spaces are one space: an error message quoted in a one-line error."""
    return " ".join(str(text).split())


def first_few(names, few=3):
    """The first `few` of NAMES, comma-separated, and ", ..." when there are more: a note that
    names what it counts."""
    names = list(names)
    return ", ".join(names[:few]) + (", ..." if len(names) > few else "")


def plural(count, noun, nouns=None):
    """1 run, 2 runs; `nouns` where adding an s is wrong: plural(n, "entry", "entries")."""
    return "{:,} {}".format(int(count), noun if count == 1 else nouns or noun + "s")


def md_table(header, rows):
    esc = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows])
