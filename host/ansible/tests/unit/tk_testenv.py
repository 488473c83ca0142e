"""Test environment for the lookup's unit tests. Import it before anything from ansible.

ansible-core reads ANSIBLE_CONFIG and ANSIBLE_COLLECTIONS_PATH once, when
ansible.constants and ansible.plugins.loader are first imported, so this module
builds a private collections tree and ansible.cfg and points the environment at
them before that happens. The collection is found through Ansible's own collection
loader (ansible_collections/tokenkeeper/vmware -> host/ansible), exactly as it is
in a playbook run.
"""

import atexit
import os
import shutil
import sys
import tempfile

if "ansible" in sys.modules:
    raise RuntimeError("tk_testenv must be imported before ansible")

COLLECTION_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAKE_HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_tokenkeeper.py")

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
# under other names so a test can tell which helper_path won.
BIN = os.path.join(ROOT, "bin")
os.makedirs(BIN)
for name in ("tokenkeeper", "fake-keyword", "fake-var", "fake-env"):
    os.symlink(FAKE_HELPER, os.path.join(BIN, name))

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
