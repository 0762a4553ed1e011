# SPDX-License-Identifier: MIT
# Fixtures shared by the Python tests.
import subprocess

import pytest


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory):
    """A python3 that is not /usr/bin/python3 and cannot see Debian's packages (matplotlib,
    scipy), as pyenv's python3 on PATH is on the development machines: made here, so that a
    machine without one (CI) tests the re-exec under /usr/bin/python3 too, rather than skip it."""
    env = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", "--copies", str(env)],
                   check=True, capture_output=True, timeout=300)
    return str(env / "bin" / "python3")
