# SPDX-License-Identifier: MIT
# Makes a script run under an interpreter that has its third-party modules, or says which apt packages to install.
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


def _missing(modules):
    """Names in `modules` that fail to import here (broken installs count as missing)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an ABI mismatch raises more than ImportError
            missing.append(name)
    return missing


def _same_interpreter(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


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


def require(modules, packages=None, purpose="this script", prog="concbench",
            system_python=SYSTEM_PYTHON, reexec=True):
    """Return if every module in `modules` imports; otherwise re-exec or exit 2.

    modules:  importable top-level names, e.g. ["matplotlib", "pandas", "numpy"].
    packages: Debian package per module ({"yaml": "python3-yaml"}); defaults to python3-<module>.
    purpose:  what needs them, for the message ("plotting").
    reexec:   when this interpreter lacks them but `system_python` (a different
              interpreter) has them, replace this process with the same script and
              arguments under `system_python`. Pass False from library imports.
    On failure prints ONE line to stderr and exits with status 2.
    """
    modules = list(modules)
    packages = dict(packages or {})
    missing = _missing(modules)
    if not missing:
        return
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if (reexec and not os.environ.get(_GUARD) and os.path.isfile(script)
            and os.path.exists(system_python)
            and not _same_interpreter(sys.executable, system_python)
            and _has_modules(system_python, modules)):
        os.environ[_GUARD] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(system_python, [system_python, script] + sys.argv[1:])
        except OSError:
            pass  # fall through to the message
    install = " ".join(packages.get(m, "python3-" + m.replace("_", "-").lower()) for m in missing)
    sys.stderr.write("%s: %s needs %s; install them with: apt-get install %s\n"
                     % (prog, purpose, ", ".join(modules), install))
    sys.exit(2)
