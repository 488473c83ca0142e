# Ansible collection tokenkeeper.vmware (host/ansible).
#
#   make test-ansible-unit  Python unit tests of the lookup under /usr/bin/python3
#                           (unittest, a fake helper; one test drives a real
#                           ansible-playbook run)
#   make e2e-ansible        the unit tests, then ansible-galaxy collection build +
#                           install, ansible-doc, and real ansible-playbook runs
#                           against tokenkeeper-sim vcf and vcd through bin/tokenkeeper
#
# Both install Debian's ansible-core first when ansible-playbook is missing (CI is a
# clean machine running as root, without stdin).

ANSIBLE_DIR     := host/ansible
ANSIBLE_PYTHON  ?= /usr/bin/python3

.PHONY: ansible-core test-ansible-unit e2e-ansible

## ansible-core: install Debian's ansible-core when ansible-playbook (or ansible for /usr/bin/python3) is missing
ansible-core:
	@{ command -v ansible-playbook && $(ANSIBLE_PYTHON) -c 'import ansible'; } >/dev/null 2>&1 || { \
		echo "ansible-playbook or the ansible package for $(ANSIBLE_PYTHON) not found: installing Debian's ansible-core" >&2; \
		timeout 600 apt-get update && \
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y ansible-core; }

## test-ansible-unit: the lookup's Python unit tests (/usr/bin/python3 -m unittest)
test-ansible-unit: ansible-core
	PYTHONDONTWRITEBYTECODE=1 timeout 600 $(ANSIBLE_PYTHON) -m unittest discover -s $(ANSIBLE_DIR)/tests/unit -v

## e2e-ansible: build, then real ansible-playbook runs against the vcf and vcd simulators
e2e-ansible: build test-ansible-unit
	PYTHONDONTWRITEBYTECODE=1 timeout 900 $(ANSIBLE_PYTHON) $(ANSIBLE_DIR)/tests/e2e/run.py

E2E_TARGETS += e2e-ansible
