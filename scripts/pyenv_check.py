# SPDX-License-Identifier: MIT
# Runs a script under an interpreter that has its third-party modules, or names the apt packages they need.
#
# Deliberately dependency-free and syntax-conservative: it runs before anything
# else in every script, possibly under a bare pyenv interpreter.
import importlib
import os
import subprocess
import sys

# The interpreter Debian's python3-* packages install into.
SYSTEM_PYTHON = "/usr/bin/python3"
# Set on the re-exec'd process so a broken system interpreter cannot loop us.
_GUARD = "CONCBENCH_PYENV_REEXEC"
# Whether this process is a re-run, taken out of the environment at once: the scripts it starts
# under the bare interpreter may re-run themselves as it did.
_RERUN = os.environ.pop(_GUARD, None) is not None


def _has_modules(python, modules):
    """Whether `python` can find every module, checked cheaply (find_spec, no import)."""
    probe = ("import importlib.util, sys\n"
             "sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)")
    try:
        return subprocess.run([python, "-c", probe] + list(modules),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def require(modules, packages=None, purpose="this script", prog="concbench", reexec=True):
    """Returns if every module imports. Otherwise, with `reexec` (False from library imports), runs
    this script again under SYSTEM_PYTHON when that has them; failing that prints one line
    naming the apt packages (`packages` maps a module to its own; python3-<module> by default)
    and exits 2."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an ABI mismatch raises more than ImportError
            missing.append(name)
    if not missing:
        return
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if (reexec and not _RERUN and os.path.isfile(script)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and _has_modules(SYSTEM_PYTHON, modules)):
        os.environ[_GUARD] = "1"  # for the re-run alone: it takes it out (_RERUN)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, script] + sys.argv[1:])
        except OSError:
            pass  # fall through to the message
    packages = packages or {}
    install = " ".join(packages.get(m, "python3-" + m.replace("_", "-").lower()) for m in missing)
    sys.stderr.write("%s: %s needs %s; install them with: apt-get install %s\n"
                     % (prog, purpose, ", ".join(modules), install))
    sys.exit(2)
