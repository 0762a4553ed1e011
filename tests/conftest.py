# SPDX-License-Identifier: MIT
# Fixtures shared by the Python tests.
import os
import subprocess

import pytest

# Google Benchmark's variables ($BENCHMARK_FORMAT, ...) are its flags to the binary, ./bench and
# the scripts, and the suite's test hooks (CONCBENCH_TEST_*), process timeout and round seed
# change what runs too: one left in the caller's shell would change what every test runs (ctest
# unsets them too). A test that wants one sets it.
for _name in [n for n in os.environ if n.startswith(("BENCHMARK_", "CONCBENCH_TEST_"))
              or n in ("CONCBENCH_PROCESS_TIMEOUT", "CONCBENCH_ROUND_SEED")]:
    del os.environ[_name]


def _skip_is_failure(report):
    """Under scripts/test.sh (CONCBENCH_NO_SKIPS=1) a skip fails, with its reason: ctest counts a
    file whose tests all skipped as passed, so a check that stopped running (the binary not
    found, a limit this machine lacks) would leave what it proves unproven with all green. An
    expected failure (xfail), which pytest reports as a skip, is not one."""
    if report.skipped and os.environ.get("CONCBENCH_NO_SKIPS") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = ("%s (scripts/test.sh runs every test; CONCBENCH_ALLOW_SKIPS=1 lets this one skip)"
                           % reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _skip_is_failure((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # a whole module skipped (allow_module_level, importorskip)
    _skip_is_failure((yield).get_result())


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory):
    """A python3 that is not /usr/bin/python3 and cannot see Debian's packages (matplotlib,
    scipy), as pyenv's python3 on PATH is on the development machines: made here, so that a
    machine without one (CI) tests the re-exec under /usr/bin/python3 too, rather than skip it."""
    env = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", "--copies", str(env)],
                   check=True, capture_output=True, timeout=300)
    return str(env / "bin" / "python3")


def _cgroup_root(controller):
    """(mount point of the hierarchy that holds CONTROLLER, whether it is v2), or a skip."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, fs = line.partition(" - ")
            kind, _, options = fs.split()[:3]
            point = fields.split()[4]
            if kind == "cgroup" and controller in options.split(","):
                return point, False
            control = os.path.join(point, "cgroup.subtree_control")
            if kind == "cgroup2" and os.path.exists(control):
                with open(control) as c:
                    if controller in c.read().split():
                        return point, True
    pytest.skip("no cgroup hierarchy with the %s controller is mounted" % controller)


@pytest.fixture
def new_cgroup():
    """make(controller, v1={file: text}, v2={file: text}, parent=None) -> (directory, preexec_fn that
    moves the process it starts into it): a cgroup of this test's own on the hierarchy that holds
    CONTROLLER (v1's, or v2's where its root enables it), below PARENT (one made before) or the
    root, its files written as that hierarchy names them. Removed after the test, children first."""
    made = []

    def make(controller, v1=None, v2=None, parent=None):
        root, is_v2 = _cgroup_root(controller)
        path = os.path.join(parent or root, "concbench-test-%d-%d" % (os.getpid(), len(made)))
        try:
            os.mkdir(path)
        except PermissionError:
            pytest.skip("making a cgroup needs write access to %s (root)" % root)
        made.append(path)
        for name, text in ((v2 if is_v2 else v1) or {}).items():
            with open(os.path.join(path, name), "w") as f:
                f.write(text)

        def join():
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        return path, join
    yield make
    for path in reversed(made):
        if os.path.isdir(path):
            os.rmdir(path)
