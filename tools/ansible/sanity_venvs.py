#!/usr/bin/python3
"""Prepares ansible-test's sanity virtual environments from Debian's packages.

`ansible-test sanity` runs most tests in a virtual environment of its own that it
fills with pip from the package index. Where that index is unreachable (CI here), it
stops at the pip bootstrap. This script creates each of those environments at the
path ansible-test computes for it (~/.ansible/test/venv/sanity.NAME/PY/HASH), with
`python3 -m venv --system-site-packages`, so that the linters come from the Debian
packages installed system-wide (pylint, pycodestyle, yamllint, voluptuous, ...), and
marks it as complete, so that ansible-test uses it as it is. ansible-test itself runs
unmodified; only the versions of the linters differ from the ones it pins.

Usage: /usr/bin/python3 sanity_venvs.py PYTHON_VERSION TEST...
(run with the HOME that ansible-test will run with).
"""

import json
import os
import subprocess
import sys

from ansible_test._internal.commands.sanity import hash_pip_commands
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import collect_requirements

# Sub-environments of the import test: (name, minimize) as ansible-test asks for them.
SUBTESTS = {"import": [("import", False), ("import.plugin", True), ("import.module", True)]}


def venv_path(python, name, minimize):
    """Returns where ansible-test looks for the environment of a test, or None if it needs none."""
    commands = collect_requirements(python=python, controller=True, virtualenv=False, command=None,
                                    ansible=False, cryptography=False, coverage=False,
                                    minimize=minimize, sanity=name)
    if not commands:
        return None
    root = os.path.expanduser("~/.ansible/test/venv")
    return os.path.join(root, "sanity." + name, python.version, hash_pip_commands(commands))


def create(python, path):
    """Creates a --system-site-packages environment with the markers ansible-test checks."""
    subprocess.run([python.path, "-m", "venv", "--system-site-packages", "--without-pip", path], check=True)
    cloader = subprocess.run(
        [os.path.join(path, "bin", "python"), "-c", "import yaml; print(hasattr(yaml, 'CLoader'))"],
        check=True, capture_output=True, text=True).stdout.strip() == "True"
    with open(os.path.join(path, "meta.install.json"), "w") as f:
        json.dump({"note": "built from Debian packages by tools/ansible/sanity_venvs.py"}, f)
    with open(os.path.join(path, "meta.yaml.json"), "w") as f:
        json.dump(cloader, f)
    with open(os.path.join(path, "marker.txt"), "w"):
        pass


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    version = argv[1]
    python = NativePythonConfig(version=version, path="/usr/bin/python" + version)
    for test in argv[2:]:
        for name, minimize in SUBTESTS.get(test, [(test, False)]):
            path = venv_path(python, name, minimize)
            if path and not os.path.exists(os.path.join(path, "marker.txt")):
                create(python, path)
                print("sanity venv for %s: %s" % (name, path))


if __name__ == "__main__":
    main(sys.argv)
