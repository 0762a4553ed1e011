# SPDX-License-Identifier: MIT
# What the command-line scripts share: bad input is one line on stderr and exit code 2.
import argparse
import re
import sys


class InputError(Exception):
    """Bad input; str() is the one line the user sees."""


class Parser(argparse.ArgumentParser):
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


def fraction(text):
    """An argparse type: a fraction, or a percentage written with %: '0.05' and '5%' are the same."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("out of range: %r" % text)
    return value


def main(run, prog, argv=None):
    """Calls run(argv) and turns InputError into one line on stderr and exit code 2."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        sys.stdout.flush()  # what was printed before the error stays before it
        print("%s: %s" % (prog, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
