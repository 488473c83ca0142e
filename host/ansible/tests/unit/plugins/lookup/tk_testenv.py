"""Test environment for the lookup's unit tests. Import it before anything from ansible.

ansible-core reads ANSIBLE_CONFIG and ANSIBLE_COLLECTIONS_PATH once, when
ansible.constants and ansible.plugins.loader are first imported, so this module
builds a private collections tree and ansible.cfg and points the environment at
them before that happens. The collection is found through Ansible's own collection
loader (ansible_collections/tokenkeeper/vmware -> the collection), exactly as it is
in a playbook run. Under `ansible-test units`, which imports the tests from its own
ansible_collections tree and configures the collection finder first, the in-process
tests use that tree and the ansible-playbook runs use this one.
"""

import atexit
import os
import shutil
import sys
import tempfile

# ansible-test units imports ansible's collection loader before the tests (harmless);
# what must not be imported yet is the configuration.
if "ansible.constants" in sys.modules or "ansible.plugins.loader" in sys.modules:
    raise RuntimeError("tk_testenv must be imported before ansible's configuration")

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FAKE_HELPER = os.path.join(HERE, "fake_tokenkeeper.py")

ROOT = tempfile.mkdtemp(prefix="tk-ansible-unit-")
atexit.register(shutil.rmtree, ROOT, True)

COLLECTIONS_PATH = os.path.join(ROOT, "collections")
os.makedirs(os.path.join(COLLECTIONS_PATH, "ansible_collections", "tokenkeeper"))
os.symlink(COLLECTION_DIR, os.path.join(COLLECTIONS_PATH, "ansible_collections", "tokenkeeper", "vmware"))

# The ini layer of the precedence chain: set for two options only, so the others
# still show their defaults.
INI_MIN_VALIDITY = "7m"
INI_CONFIG = "/from-ini/config.yaml"
ANSIBLE_CFG = os.path.join(ROOT, "ansible.cfg")
with open(ANSIBLE_CFG, "w") as f:
    f.write("[tokenkeeper_lookup]\nmin_validity = %s\nconfig = %s\n" % (INI_MIN_VALIDITY, INI_CONFIG))

# A bin directory on PATH holding the fake helper under the default name, and copies
# under other names so a test can tell which helper_path won. Each copy gets a
# shebang naming this interpreter (the source has none: ansible-test's shebang
# check allows only "#!/usr/bin/env python", and Debian has no "python").
BIN = os.path.join(ROOT, "bin")
os.makedirs(BIN)
with open(FAKE_HELPER) as src:
    FAKE_SOURCE = src.read()
for name in ("tokenkeeper", "fake-keyword", "fake-var", "fake-env"):
    path = os.path.join(BIN, name)
    with open(path, "w") as dst:
        dst.write("#!%s\n%s" % (sys.executable, FAKE_SOURCE))
    os.chmod(path, 0o755)

OPTION_ENV = ("TOKENKEEPER_PATH", "TOKENKEEPER_CONFIG", "TOKENKEEPER_MIN_VALIDITY",
              "TOKENKEEPER_LOOKUP_FORMAT", "TOKENKEEPER_LOOKUP_TIMEOUT")
for name in OPTION_ENV:
    os.environ.pop(name, None)
for name in list(os.environ):
    if name.startswith("FAKE_TK_"):
        del os.environ[name]
os.environ.update({
    "ANSIBLE_CONFIG": ANSIBLE_CFG,
    "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_PATH,
    "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
    "ANSIBLE_LOCAL_TEMP": os.path.join(ROOT, "tmp"),
    "ANSIBLE_NOCOLOR": "1",
    "PATH": BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
})
