# Ansible collection tokenkeeper.vmware (host/ansible).
#
#   make ansible-units      `ansible-test units`: the lookup's unit tests
#                           (tests/unit/plugins/lookup, a fake helper; one test drives
#                           a real ansible-playbook run); test-ansible-unit is an alias
#   make ansible-sanity     `ansible-test sanity` (every test but changelog, see
#                           below) and the changelog check
#   make ansible-lint       ansible-lint with the collection's .ansible-lint
#   make e2e-ansible        all three, then ansible-galaxy collection build +
#                           install, ansible-doc, and real ansible-playbook runs
#                           against tokenkeeper-sim vcf and vcd through bin/tokenkeeper
#
# Tested with ansible-core 2.14.18, ansible-lint 6.13.1, pylint 2.16.2 and
# pycodestyle 2.10.0 on Python 3.11: the only versions Debian 12 offers, and no
# package index is reachable here to test others. Each target installs the Debian
# packages it needs first when they are missing (CI is a clean machine running as
# root, without stdin).

ANSIBLE_DIR     := host/ansible
ANSIBLE_PYTHON  ?= /usr/bin/python3

.PHONY: ansible-core ansible-test-debs ansible-units test-ansible-unit ansible-sanity ansible-changelog ansible-lint e2e-ansible

## ansible-core: install Debian's ansible-core when ansible-playbook (or ansible for /usr/bin/python3) is missing
ansible-core:
	@{ command -v ansible-playbook && $(ANSIBLE_PYTHON) -c 'import ansible'; } >/dev/null 2>&1 || { \
		echo "ansible-playbook or the ansible package for $(ANSIBLE_PYTHON) not found: installing Debian's ansible-core" >&2; \
		timeout 600 apt-get update && \
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y ansible-core; }

# What ansible-test and ansible-lint need, from Debian: ansible-test's own venvs
# would pip-install pinned linters from the package index, which is unreachable.
ANSIBLE_TEST_DEBS := ansible-core ansible-lint pylint pycodestyle yamllint python3-voluptuous \
	python3-pytest python3-pytest-xdist python3-pytest-forked python3-mock python3-yaml \
	python3-jinja2 python3-packaging python3-venv
ANSIBLE_TEST_PY   := 3.11
# Debian's interpreters first: a python3.11 earlier on PATH (pyenv, a venv) has
# none of the packages above.
ANSIBLE_TEST_PATH := /usr/sbin:/usr/bin:/sbin:/bin
# The sanity tests whose venvs sanity_venvs.py prepares (the others need none).
ANSIBLE_TEST_VENVS := ansible-doc import integration-aliases pep8 pylint runtime-metadata validate-modules yamllint

## ansible-test-debs: install the Debian packages ansible-test and ansible-lint need, when missing
ansible-test-debs:
	@missing=$$(for p in $(ANSIBLE_TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	test -z "$$missing" || { \
		echo "installing Debian packages for ansible-test:" $$missing >&2; \
		timeout 600 apt-get update && \
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y $$missing; }

# ansible-test runs only inside ansible_collections/NAMESPACE/NAME: each run copies
# the collection into a fresh tree (with a private HOME for ansible-test's venvs
# and caches), runs there and removes it. $(1): the ansible-test arguments.
define ansible-test-in-tree
	@set -e; tree=$$(mktemp -d); trap 'rm -rf "$$tree"' EXIT; \
	dest=$$tree/ansible_collections/tokenkeeper/vmware; mkdir -p $$dest $$tree/home; \
	tar -C $(ANSIBLE_DIR) --exclude=__pycache__ --exclude=tests/output --exclude='*.tar.gz' -cf - . | tar -C $$dest -xf -; \
	cd $$dest && export HOME=$$tree/home PATH=$(ANSIBLE_TEST_PATH) PYTHONDONTWRITEBYTECODE=1; \
	$(abspath tools/ansible/sanity_venvs.py) $(ANSIBLE_TEST_PY) $(ANSIBLE_TEST_VENVS) >/dev/null; \
	echo "ansible-test $(1) (ansible-core $$(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p'))"; \
	timeout 1200 ansible-test $(1) --python $(ANSIBLE_TEST_PY) --local --color no
endef

## ansible-units: ansible-test units (the lookup's unit tests) in a venv-free local run
ansible-units: ansible-test-debs
	$(call ansible-test-in-tree,units)

test-ansible-unit: ansible-units

## ansible-changelog: the collection's changelogs/ in antsibull-changelog's format (and the checker's own tests)
ansible-changelog: ansible-test-debs
	PYTHONDONTWRITEBYTECODE=1 timeout 120 /usr/bin/python3 -m unittest discover -s tools/ansible
	PYTHONDONTWRITEBYTECODE=1 timeout 60 /usr/bin/python3 tools/ansible/check_changelog.py $(ANSIBLE_DIR)

# changelog is skipped: it runs antsibull-changelog, which Debian does not package;
# ansible-changelog checks the same files instead.
## ansible-sanity: ansible-test sanity (all tests but changelog) and the changelog check
ansible-sanity: ansible-test-debs ansible-changelog
	$(call ansible-test-in-tree,sanity --skip-test changelog)

## ansible-lint: ansible-lint with the committed host/ansible/.ansible-lint
ansible-lint: ansible-test-debs
	@set -e; home=$$(mktemp -d); trap 'rm -rf "$$home"' EXIT; \
	echo "ansible-lint $$(PATH=$(ANSIBLE_TEST_PATH) ansible-lint --version --nocolor | sed -n '1s/^ansible-lint \([0-9.]*\).*/\1/p') in $(ANSIBLE_DIR)"; \
	cd $(ANSIBLE_DIR) && HOME=$$home PATH=$(ANSIBLE_TEST_PATH) timeout 600 ansible-lint --nocolor

## e2e-ansible: build, then real ansible-playbook runs against the vcf and vcd simulators
e2e-ansible: build ansible-units ansible-sanity ansible-lint
	PYTHONDONTWRITEBYTECODE=1 timeout 900 $(ANSIBLE_PYTHON) $(ANSIBLE_DIR)/tests/e2e/run.py

E2E_TARGETS += e2e-ansible
