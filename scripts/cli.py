# SPDX-License-Identifier: MIT
# What the command-line scripts share: bad input is one line on stderr and exit code 2.
import argparse
import contextlib
import errno
import functools
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import traceback

import pyenv_check

# The checkout these scripts belong to: the default repository and results directory.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def require(modules, purpose, prog, caller):
    """pyenv_check.require for a script's third-party modules, before it imports them; `caller`
    is the script's __name__: only a script run as one is re-executed, never one imported."""
    pyenv_check.require(modules, purpose=purpose, prog=prog, reexec=caller == "__main__")


class Failure(Exception):
    """What ends a script with one line on stderr (str(); none if empty) and exit_code."""
    exit_code = 1

    def __init__(self, message="", exit_code=None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(Failure):
    """Bad input; str() is the one line the user sees."""
    exit_code = 2


class Parser(argparse.ArgumentParser):
    # No abbreviations: bisect.sh refuses ab.py's --help and --out by name, and --hel or --ou
    # passed it as an abbreviation (ab.py's help exits 0, read as "no regression").
    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    # argparse prints usage and the error on two lines; bad input here is always one line.
    def error(self, message):
        raise InputError("%s (see --help)" % message)


def regex(text):
    """An argparse type: a regular expression, checked when the command line is read."""
    try:
        re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError("%r is not a regular expression: %s" % (text, e)) from None
    return text


class _StillMatching(Exception):
    pass


def name_filter(pattern, option="--filter", seconds=5.0):
    """re.search(pattern, name) as a test of names, each distinct name matched once; a match
    still running after `seconds` is InputError, as the binary treats its filter: a pattern that
    backtracks ((.*)*x takes time exponential in a name's length) is bad input, not a hang."""
    if not pattern:
        return lambda name: True
    search, seen = re.compile(pattern).search, {}

    def too_long(*_):
        raise _StillMatching

    def keep(name):
        if name not in seen:
            before = signal.signal(signal.SIGALRM, too_long)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                seen[name] = search(name) is not None
            except _StillMatching:
                raise InputError("%s %s: still matching %s after %g s (a pattern that backtracks without end)"
                                 % (option, pattern, name, seconds)) from None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, before)
        return seen[name]
    return keep


def path(text):
    """An argparse type: a path, never empty (an empty --out once meant the default output)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    return text


def history_dir(repo=REPO):
    """Where ./bench keeps a repository's records."""
    return os.path.join(repo, "results", "history")


def repo_options(p, repo_help):
    """--repo and --history (records of the commits named; default REPO's history_dir)."""
    p.add_argument("--repo", type=path, default=REPO, help=repo_help)
    p.add_argument("--history", type=path, help="directory of records (default: REPO/results/history)")


def whole(lo, hi, what):
    """An argparse type: a whole number in lo..hi, written 100000000 or 1e8 as the C++ flags take."""
    def parse(text):
        m = re.fullmatch(r"(\d+)(?:[eE](\d+))?", text.strip())
        value = None
        if m:  # sized before it is computed: 1e99999999999 is out of range, not hours of arithmetic
            digits, exponent = m.group(1).lstrip("0"), (m.group(2) or "").lstrip("0") or "0"
            if not digits:
                value = 0
            elif len(exponent) < 4 and len(digits) + int(exponent) <= len(str(hi)):
                value = int(digits) * 10 ** int(exponent)
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError("%r is not %s in %d..%d" % (text, what, lo, hi))
        return value
    return parse


def fraction(text, lowest_allowed=True):
    """An argparse type: a fraction in [0, 1), or a percentage written with %: '0.05' and '5%' are
    the same."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not (0 <= value if lowest_allowed else 0 < value) or not value < 1:
        raise argparse.ArgumentTypeError("%r is not between 0 (%s) and 1 (exclusive)"
                                         % (text, "inclusive" if lowest_allowed else "exclusive"))
    return value


significance = functools.partial(fraction, lowest_allowed=False)  # a significance level: strictly above 0


def runnable(path):
    """Whether path is a file this user may run (os.access alone passes a directory)."""
    return os.path.isfile(path) and os.access(path, os.X_OK)


def output(path, directory=False, create=False):
    """Checks before any work that `path` can be written as a file or, with directory=True, as a
    directory; with create=True the directory (a file's: its parent) may be missing if it can be
    made in its nearest existing ancestor, when the output is written (a refusal before then leaves
    no empty directory behind). Returns path; InputError says why not, so no run is lost at the
    end to a bad output path."""
    if not path:
        raise InputError("an empty output path")
    # A file is made beside the file a symbolic link names (run_isolated.write_json).
    where = os.path.abspath(path if directory else os.path.dirname(os.path.realpath(path)))
    if not directory and os.path.isdir(path):
        raise InputError("cannot write %s: it is a directory" % path)
    if not directory and path.endswith(os.sep):  # else written, at the end, as the name before the /
        raise InputError("cannot write %s: a file's name cannot end in %s" % (path, os.sep))
    # A file is written beside its path and renamed onto it: that would put a file in place of
    # a FIFO or a device (--out /dev/null, as root, would replace /dev/null).
    if not directory and os.path.exists(path) and not os.path.isfile(path):
        raise InputError("cannot write %s: it exists and is not a regular file" % path)
    if not directory and os.path.islink(path) and not os.path.exists(path):
        raise InputError("cannot write %s: a symbolic link to a missing file" % path)
    while create and not os.path.lexists(where):
        where = os.path.dirname(where)
    if not os.path.isdir(where):
        what = "it" if where == os.path.abspath(path) else where
        raise InputError("cannot write %s: %s %s" % (path, what, "is not a directory" if os.path.exists(where)
                                                     else "does not exist"))
    try:  # a name too long was found only by the rename at the end
        os.stat(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise InputError("cannot write %s: %s" % (path, e.strerror or e)) from None
    try:  # by writing: os.access says yes to root anywhere, even in /proc
        tempfile.TemporaryFile(dir=where).close()
    except OSError as e:
        raise InputError("cannot write %s: directory %s is not writable (%s)"
                         % (path, where, e.strerror or e)) from None
    return path


def check_page_out(out, title, names, page):
    """InputError unless OUT is free of `names` or holds the page they belong to, whose README.md
    begins with `title`: publish replaces them whole, and --out . or results/ once replaced the
    project's README.md or the results page."""
    if not any(os.path.lexists(os.path.join(out, name)) for name in names):
        return
    try:
        with open(os.path.join(out, "README.md"), encoding="utf-8") as f:
            ours = f.readline().rstrip("\n") == title
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise InputError("%s holds a %s that is not %s; give --out a directory of its own"
                         % (out, " or ".join(names), page))


def publish(out_dir, names, build):
    """Writes output all at once or not at all: build(tmp) writes the entries `names` into a fresh
    directory; each replaces its namesake in out_dir (one build did not write is removed), the
    rest of out_dir is left alone, and on any failure out_dir is left as it was. Returns build's result."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError("output %s exists and is not a directory" % out_dir)
    made, d = [], os.path.abspath(out_dir)  # the directories made here, deepest first
    while not os.path.isdir(d):
        made.append(d)
        d = os.path.dirname(d)
    try:
        return _replace_entries(out_dir, names, build)
    finally:
        for d in made:
            try:
                os.rmdir(d)  # only succeeds if nothing landed in it
            except OSError:
                break


def _replace_entries(out_dir, names, build):
    """publish's work in out_dir, which it may make."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=out_dir)
    except OSError as e:
        raise InputError("cannot write to %s: %s" % (out_dir, e.strerror or e)) from None
    old, keep, built = os.path.join(tmp, ".old"), False, set()
    try:
        result = build(tmp)
        built = {name for name in names if os.path.lexists(os.path.join(tmp, name))}
        os.mkdir(old)
        for name in names:
            if os.path.lexists(os.path.join(out_dir, name)):
                os.rename(os.path.join(out_dir, name), os.path.join(old, name))
            if name in built:
                os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
        return result
    except BaseException as failure:
        try:
            # Undone from what is on disk, so an interrupt between two steps is undone too.
            for name in reversed(names):
                target = os.path.join(out_dir, name)
                if name in built and not os.path.lexists(os.path.join(tmp, name)):
                    if os.path.isdir(target) and not os.path.islink(target):
                        shutil.rmtree(target)
                    else:
                        os.remove(target)
                if os.path.lexists(os.path.join(old, name)):
                    os.rename(os.path.join(old, name), target)
        except BaseException:
            keep = True  # the previous output is still in tmp: never delete it
            raise InputError("%s, and the previous output could not be put back: it is in %s"
                             % (failure or type(failure).__name__, old)) from failure
        raise
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)  # the old entries go with it after success


def say(prog, message):
    """One line on stderr, "PROG: message", flushed so it stays in order with other output."""
    print("%s: %s" % (prog, message), file=sys.stderr, flush=True)


@contextlib.contextmanager
def sigterm_exits():
    """Inside, SIGTERM and SIGHUP (the terminal closed) end the run as an interrupt does: the
    finally blocks that remove temporary directories, worktrees and half-written output run, and
    the exit status is 143 or 129 (a SIGHUP left the run's temporary directory behind). SIGHUP
    ignored (nohup) stays ignored. The previous handlers are back afterwards (tests call the
    scripts' main() in their own process)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig in previous:
        if previous[sig] is not signal.SIG_IGN or sig == signal.SIGTERM:
            signal.signal(sig, lambda number, _: sys.exit(128 + number))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# The exit status of a script that could not finish: its output had no room, or a bug. Not 1,
# which says "regressed" for ab.py and compare.py (and bisect.sh marks the commit bad on it).
UNFINISHED = 3


def main(run, prog, argv=None):
    """Calls run(argv) and turns a Failure into one line on stderr and its exit code (InputError: 2);
    a bug keeps its traceback and exits UNFINISHED."""
    with sigterm_exits():
        try:
            try:
                code = run(sys.argv[1:] if argv is None else argv)
            except SystemExit as e:  # --help, and SIGTERM: what they printed is flushed below too
                code = e.code
            sys.stdout.flush()  # here, not at exit: output shorter than the buffer meets the closed pipe only then
            return code
        except Failure as e:
            sys.stdout.flush()  # what was printed before the error stays before it
            if str(e):
                say(prog, e)
            return e.exit_code
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return closed_pipe()
        except Exception as e:
            if isinstance(e, OSError) and e.errno in NO_ROOM:
                return output_failed(prog, e)
            traceback.print_exc()
            say(prog, "internal error (the traceback above): a bug, not bad input")
            return UNFINISHED


# The exit statuses of a run Ctrl-C or SIGTERM ended (main: KeyboardInterrupt, sigterm_exits).
STOPPED = {129: "hung up", 130: "interrupted", 143: "terminated"}


def say_stopped(prog, code, left):
    """A long run's last line when Ctrl-C, SIGTERM or SIGHUP ended it (exit status `code`): that
    it stopped, and what it leaves (`left`); nothing for any other status. A terminal that hung
    up takes no line (EIO): the exit status says it."""
    if code in STOPPED:
        with contextlib.suppress(OSError):
            say(prog, "%s; %s" % (STOPPED[code], left))


def closed_pipe():
    """What a script does when its reader stopped reading (`| head`): no traceback, stdout to
    /dev/null so the flush at exit cannot fail again, and the status of a process SIGPIPE ended."""
    _stdout_to_devnull()
    return 141


# What a write meets when the output has no room (a full disk, `> /dev/full`).
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def output_failed(prog, e):
    """A write to stdout (or a file) that found no room: one line and exit UNFINISHED, stdout to
    /dev/null so the flush at exit cannot fail again."""
    say(prog, "cannot write its output: %s" % (e.strerror or e))
    _stdout_to_devnull()
    return UNFINISHED


def _stdout_to_devnull():
    """So that the flush at exit cannot fail again on an output that already failed."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def stdout_closed():
    """True when nobody reads stdout any more: a pipe whose reader is gone polls as an error."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):  # no stdout, or not a file
        return False
