"""The lookup inside a real ansible-playbook run, against the fake helper.

Proves what the in-process tests cannot: that play and task variables reach the
lookup (templated), that the environment of the controller is read, that the defaults
apply with an empty ansible.cfg, and what a user sees when the helper fails.
"""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

from ansible_collections.tokenkeeper.vmware.tests.unit.plugins.lookup import tk_testenv

CANARY = "eyJ-CANARY-playbook-55e1-do-not-leak"

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: keyword beats variable and environment
          vars:
            tokenkeeper_helper_path: "{{ fake_bin }}/fake-var"
            tokenkeeper_min_validity: "{{ 1 + 1 }}m"
            tokenkeeper_format: header
          ansible.builtin.set_fact:
            by_keyword: "{{ lookup('tokenkeeper.vmware.token', 'p-keyword', helper_path=fake_bin ~ '/fake-keyword',
                            min_validity='1m', format='token') }}"
          no_log: true
        - name: variable beats environment
          vars:
            tokenkeeper_helper_path: "{{ fake_bin }}/fake-var"
            tokenkeeper_min_validity: "{{ 1 + 1 }}m"
            tokenkeeper_format: header
          ansible.builtin.set_fact:
            by_var: "{{ lookup('tokenkeeper.vmware.token', 'p-var') }}"
          no_log: true
        - name: environment (or default)
          ansible.builtin.set_fact:
            by_env: "{{ lookup('tokenkeeper.vmware.token', 'p-env') }}"
          no_log: true
        - name: check the shapes without printing them
          ansible.builtin.assert:
            that:
              - "by_keyword == canary"
              - "by_var == {'Authorization': 'Bearer ' ~ canary}"
              - "(expect_env_format == 'token' and by_env == canary) or (expect_env_format == 'json' and by_env.kind == 'Token')"
            quiet: true
    """)

FAILING = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: first call to the API
          ansible.builtin.uri:
            url: http://127.0.0.1:9/never-called
            headers: "{{ lookup('tokenkeeper.vmware.token', 'sddc', format='header') }}"
        - name: never reached
          ansible.builtin.debug:
            msg: second task ran
    """)


@unittest.skipIf(shutil.which("ansible-playbook") is None,
                 "ansible-playbook not installed (make ansible-units installs ansible-core)")
class TestPlaybook(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tk-play-", dir=tk_testenv.ROOT)
        self.record = os.path.join(self.tmp, "calls.jsonl")
        empty_cfg = os.path.join(self.tmp, "ansible.cfg")
        open(empty_cfg, "w").close()
        self.env = dict(os.environ, ANSIBLE_CONFIG=empty_cfg, FAKE_TK_RECORD=self.record,
                        FAKE_TK_TOKEN=CANARY, ANSIBLE_HOME=os.path.join(self.tmp, "home"))

    def play(self, text, extra_env=None, extra_vars=None, verbosity="-vvv"):
        path = os.path.join(self.tmp, "play.yml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(self.env, **(extra_env or {}))
        argv = ["ansible-playbook", verbosity, "-i", "localhost,", path,
                "-e", json.dumps(dict({"fake_bin": tk_testenv.BIN, "canary": CANARY}, **(extra_vars or {})))]
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=180, check=False)
        return proc.returncode, proc.stdout.decode("utf-8", "replace")

    def calls(self):
        with open(self.record) as f:
            return {c["request"]["profile"]: c for c in map(json.loads, f)}

    def test_precedence_in_a_play(self):
        rc, out = self.play(PLAYBOOK, extra_vars={"expect_env_format": "json"}, extra_env={
            "TOKENKEEPER_PATH": "fake-env", "TOKENKEEPER_MIN_VALIDITY": "3m",
            "TOKENKEEPER_LOOKUP_FORMAT": "json", "TOKENKEEPER_CONFIG": "/env/c.yaml"})
        self.assertEqual(rc, 0, "ansible-playbook failed; output without the token:\n" + out.replace(CANARY, "<T>"))
        self.assertNotIn(CANARY, out)
        calls = self.calls()
        self.assertEqual((calls["p-keyword"]["prog"], calls["p-keyword"]["request"]["minValidity"]), ("fake-keyword", "1m"))
        self.assertEqual((calls["p-var"]["prog"], calls["p-var"]["request"]["minValidity"]), ("fake-var", "2m"))
        self.assertEqual((calls["p-env"]["prog"], calls["p-env"]["request"]["minValidity"]), ("fake-env", "3m"))
        self.assertEqual(calls["p-env"]["argv"][-2:], ["--config", "/env/c.yaml"])

    def test_defaults_in_a_play(self):
        rc, out = self.play(PLAYBOOK, extra_vars={"expect_env_format": "token"})
        self.assertEqual(rc, 0, "ansible-playbook failed; output without the token:\n" + out.replace(CANARY, "<T>"))
        self.assertNotIn(CANARY, out)
        default = self.calls()["p-env"]
        self.assertEqual(default["prog"], "tokenkeeper")  # found on PATH
        self.assertNotIn("--config", default["argv"])  # the helper's own default
        self.assertNotIn("minValidity", default["request"])

    def test_failure_shows_helper_message(self):
        message = "profile sddc: credentials rejected by https://sddc.lab (HTTP 401)"
        rc, out = self.play(FAILING, verbosity="-v", extra_env={
            "FAKE_TK_MODE": "error", "FAKE_TK_EXIT": "3", "FAKE_TK_MESSAGE": message})
        self.assertEqual(rc, 2, out)
        self.assertIn(message, out)
        self.assertIn("Unauthenticated", out)
        self.assertIn("exit status 3", out)
        self.assertNotIn("second task ran", out)
        self.assertEqual(len(self.calls()), 1)


if __name__ == "__main__":
    unittest.main()
