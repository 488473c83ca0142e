"""Unit tests of the tokenkeeper.vmware.token lookup against a fake helper.

The plugin is loaded through ansible-core's own plugin loader and collection finder and
run through a Templar, the way a playbook runs it, so option precedence is Ansible's
real behaviour, not a re-implementation of it.

Run: make ansible-units (ansible-test units in a temporary ansible_collections tree)
"""

import json
import os
import stat
import tempfile
import time
import traceback
import unittest
from unittest import mock

# tk_testenv must come before any other ansible import.
from ansible_collections.tokenkeeper.vmware.tests.unit.plugins.lookup import tk_testenv

from ansible.errors import AnsibleError, AnsibleLookupError, AnsibleOptionsError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar
from ansible.utils.display import Display

PLUGIN = "tokenkeeper.vmware.token"
CANARY = "eyJ-CANARY-7c1d0f-do-not-leak"


def flags(call):
    """The --flag value pairs the fake helper was given after `get`."""
    args = call["argv"][1:]
    return dict(zip(args[::2], args[1::2]))


def load_plugin():
    plugin = lookup_loader.get(PLUGIN, loader=DataLoader(), templar=Templar(loader=DataLoader()))
    if plugin is None:
        raise AssertionError("Ansible's plugin loader did not find %s" % PLUGIN)
    return plugin


def template(expr, variables=None):
    """Evaluates a Jinja expression with Ansible's Templar, as a task argument would be."""
    return Templar(loader=DataLoader(), variables=variables or {}).template(expr)


class LookupTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tk-case-", dir=tk_testenv.ROOT)
        self.record = os.path.join(self.tmp, "calls.jsonl")
        env = mock.patch.dict(os.environ, {"FAKE_TK_RECORD": self.record, "FAKE_TK_TOKEN": CANARY})
        env.start()
        self.addCleanup(env.stop)

    def calls(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f]

    def fake(self, **env):
        """Sets FAKE_TK_* variables for the rest of the test."""
        patch = mock.patch.dict(os.environ, {"FAKE_TK_" + k.upper(): str(v) for k, v in env.items()})
        patch.start()
        self.addCleanup(patch.stop)

    def assertNoCanary(self, err):
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        self.assertNotIn(CANARY, text)
        self.assertNotIn(CANARY, repr(err))


class TestPrecedence(LookupTestCase):
    """keyword > Ansible variable > environment > ansible.cfg > default, per option."""

    SOURCES = ("keyword", "var", "env", "ini")

    # option: (variable, environment variable, {source: value}, default)
    OPTIONS = {
        "min_validity": ("tokenkeeper_min_validity", "TOKENKEEPER_MIN_VALIDITY",
                         {"keyword": "1m", "var": "2m", "env": "3m", "ini": tk_testenv.INI_MIN_VALIDITY}, None),
        "config": ("tokenkeeper_config", "TOKENKEEPER_CONFIG",
                   {"keyword": "/kw/c.yaml", "var": "/var/c.yaml", "env": "/env/c.yaml",
                    "ini": tk_testenv.INI_CONFIG}, None),
        "helper_path": ("tokenkeeper_helper_path", "TOKENKEEPER_PATH",
                        {"keyword": "fake-keyword", "var": "fake-var", "env": "fake-env"}, "tokenkeeper"),
        "timeout": ("tokenkeeper_timeout", "TOKENKEEPER_LOOKUP_TIMEOUT",
                    {"keyword": 11.0, "var": 12.0, "env": 13.0}, 60.0),
        "format": ("tokenkeeper_format", "TOKENKEEPER_LOOKUP_FORMAT",
                   {"keyword": "json", "var": "header", "env": "json"}, "token"),
    }

    def run_with(self, option, sources):
        var, env, values = self.OPTIONS[option][:3]
        kwargs = {option: values["keyword"]} if "keyword" in sources else {}
        variables = {var: values["var"]} if "var" in sources else {}
        environ = {env: str(values["env"])} if "env" in sources else {}
        plugin = load_plugin()
        with mock.patch.dict(os.environ, environ):
            result = plugin.run(["sddc"], variables=variables, **kwargs)
        return plugin, result

    def test_precedence(self):
        for option, (dummy_var, dummy_env, values, default) in self.OPTIONS.items():
            # Each case sets every source from the winner down; the winner must win.
            # ansible.cfg is process-wide here, so an option set there has no default
            # case (the playbook test covers those defaults).
            chain = [s for s in self.SOURCES if s in values]
            if "ini" not in values:
                chain.append("default")
            for i, winner in enumerate(chain):
                with self.subTest(option=option, winner=winner):
                    plugin, result = self.run_with(option, chain[i:])
                    want = default if winner == "default" else values[winner]
                    self.assertEqual(plugin.get_option(option), want)
                    self.assertEffect(option, want, result)

    def assertEffect(self, option, want, result):
        """Checks the option did what it says, not only that get_option returns it."""
        call = self.calls()[-1]
        if option == "min_validity":
            self.assertEqual(call["request"].get("minValidity"), want)
        elif option == "config":
            self.assertEqual(flags(call).get("--config"), want)
        elif option == "helper_path":
            self.assertEqual(call["prog"], want)
        elif option == "format":
            shapes = {"token": CANARY, "header": {"Authorization": "Bearer " + CANARY}}
            if want == "json":
                self.assertEqual(result[0]["kind"], "Token")
            else:
                self.assertEqual(result[0], shapes[want])

    def test_variable_is_templated(self):
        # Variables reach a lookup untemplated; the plugin must template its own.
        got = template("{{ lookup('%s', 'sddc', format='json') }}" % PLUGIN,
                       {"tokenkeeper_min_validity": "{{ 4 + 1 }}m", "tokenkeeper_format": "token"})
        self.assertEqual(got["kind"], "Token")
        self.assertEqual(self.calls()[-1]["request"]["minValidity"], "5m")

    def test_unknown_keyword_rejected(self):
        with self.assertRaises(AnsibleLookupError) as cm:
            load_plugin().run(["sddc"], variables={}, min_valdity="10m")
        self.assertIn("min_valdity", str(cm.exception))
        self.assertEqual(self.calls(), [])

    def test_bad_format_rejected(self):
        with self.assertRaises(AnsibleOptionsError):
            load_plugin().run(["sddc"], variables={}, format="yaml")


class TestSuccess(LookupTestCase):
    def test_formats(self):
        cases = [
            ("default is token", {}, {}, CANARY),
            ("token", {"format": "token"}, {}, CANARY),
            ("header", {"format": "header"}, {}, {"Authorization": "Bearer " + CANARY}),
            ("legacy vcd header", {"format": "header"}, {"header": "x-vcloud-authorization"},
             {"x-vcloud-authorization": CANARY}),
        ]
        for name, kwargs, fake, want in cases:
            with self.subTest(name):
                with mock.patch.dict(os.environ, {"FAKE_TK_" + k.upper(): v for k, v in fake.items()}):
                    self.assertEqual(load_plugin().run(["sddc"], variables={}, **kwargs), [want])

    def test_json_document(self):
        doc = load_plugin().run(["sddc"], variables={}, format="json")[0]
        self.assertEqual(doc["apiVersion"], "tokenkeeper/v1")
        self.assertEqual(doc["kind"], "Token")
        self.assertEqual(doc["token"], CANARY)
        self.assertEqual(doc["header"], {"name": "Authorization", "value": "Bearer " + CANARY})
        self.assertEqual(doc["fingerprint"], "sha256:1f2e3d4c5b6a7988")

    def test_request_on_stdin_only(self):
        load_plugin().run(["sddc"], variables={}, min_validity="10m", config="/etc/tk.yaml")
        call = self.calls()[-1]
        self.assertEqual(call["argv"], ["get", "--format", "json", "--timeout", "60s", "--config", "/etc/tk.yaml"])
        self.assertEqual(call["request"], {"apiVersion": "tokenkeeper/v1", "kind": "TokenRequest",
                                           "profile": "sddc", "minValidity": "10m"})

    def test_allow_shorter(self):
        self.fake(mode="shorter")
        warnings = []
        with mock.patch.object(Display(), "warning", lambda msg, *a, **k: warnings.append(msg)):
            doc = load_plugin().run(["sddc"], variables={}, min_validity="10m", allow_shorter=True, format="json")[0]
        self.assertIs(doc["shorterThanRequested"], True)
        self.assertEqual(self.calls()[-1]["request"].get("allowShorter"), True)
        self.assertTrue(any("sooner than min_validity" in w and "sha256:1f2e3d4c5b6a7988" in w for w in warnings),
                        warnings)
        for w in warnings:
            self.assertNotIn(CANARY, w)
        # Without the option the request does not carry it, and the helper refuses.
        with self.assertRaises(AnsibleLookupError) as cm:
            load_plugin().run(["sddc"], variables={}, min_validity="10m")
        self.assertNotIn("allowShorter", self.calls()[-1]["request"])
        self.assertIn("Unavailable", str(cm.exception))

    def test_one_call_per_term(self):
        got = template("{{ query('%s', 'sddc', 'vcd', format='header') }}" % PLUGIN)
        self.assertEqual(len(got), 2)
        self.assertEqual([c["request"]["profile"] for c in self.calls()], ["sddc", "vcd"])

    def test_min_validity_forms(self):
        cases = [(600, "600s"), ("900", "900s"), ("1h30m", "1h30m"), ("1.5h", "1.5h")]
        for given, sent in cases:
            with self.subTest(given=given):
                load_plugin().run(["sddc"], variables={}, min_validity=given)
                self.assertEqual(self.calls()[-1]["request"]["minValidity"], sent)

    def test_no_token_in_verbose_output(self):
        shown = []
        display = Display()
        with mock.patch.object(display, "verbosity", 4), \
                mock.patch.object(display, "display", lambda msg, *a, **k: shown.append(msg)):
            for fmt in ("token", "header", "json"):
                load_plugin().run(["sddc"], variables={}, format=fmt)
        self.assertTrue(any("sha256:1f2e3d4c5b6a7988" in m for m in shown), shown)
        for msg in shown:
            self.assertNotIn(CANARY, msg)


class TestFailures(LookupTestCase):
    def run_lookup(self, **kwargs):
        with self.assertRaises(AnsibleLookupError) as cm:
            load_plugin().run(["sddc"], variables={}, **kwargs)
        self.assertNoCanary(cm.exception)
        return cm.exception

    def test_helper_missing(self):
        cases = [
            ("absolute path", "/nonexistent/bin/tokenkeeper", "/nonexistent/bin/tokenkeeper", "does not exist"),
            ("name on PATH", "tokenkeeper-not-installed", "tokenkeeper-not-installed", "not found on PATH"),
        ]
        for name, path, named, why in cases:
            with self.subTest(name):
                err = self.run_lookup(helper_path=path)
                self.assertIn(named, str(err))
                self.assertIn(why, str(err))
                self.assertIn("helper_path", str(err))
                self.assertEqual(err.code, "HelperNotFound")

    def test_helper_not_executable(self):
        path = os.path.join(self.tmp, "tokenkeeper")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        err = self.run_lookup(helper_path=path)
        self.assertIn("not executable", str(err))

    def test_error_document(self):
        cases = [
            ("rejected", "3", "Unauthenticated", "profile sddc: login rejected by upstream (HTTP 401)", False),
            ("forbidden", "4", "PermissionDenied", "role VIEWER may not do that", False),
            ("down", "5", "Unavailable", "upstream unavailable: connection refused", True),
            ("bad config", "2", "InvalidArgument", "unknown profile \"sddc\"; known: vcd", False),
        ]
        for name, status, code, message, retryable in cases:
            with self.subTest(name):
                self.fake(mode="error", exit=status, code=code, message=message)
                err = self.run_lookup()
                self.assertIn(message, str(err))
                self.assertIn(code, str(err))
                self.assertIn("exit status %s" % status, str(err))
                self.assertEqual((err.code, err.exit_status, err.retryable), (code, int(status), retryable))

    def test_exit_without_document_uses_stderr(self):
        self.fake(mode="stderr-only", exit="5", message="dial unix /run/tk.sock: connection refused")
        err = self.run_lookup()
        self.assertIn("connection refused", str(err))
        self.assertEqual((err.code, err.exit_status), ("Unavailable", 5))

    def test_exit_with_garbage_on_stdout(self):
        # A failing helper's stdout is never quoted, only its stderr line.
        self.fake(mode="garbage-exit", exit="1", message="internal error: boom")
        err = self.run_lookup()
        self.assertIn("internal error: boom", str(err))
        self.assertEqual((err.code, err.exit_status), ("Internal", 1))

    def test_malformed_output(self):
        for mode in ("garbage", "two-docs", "bad-version", "bad-kind", "no-token", "other-profile"):
            with self.subTest(mode):
                self.fake(mode=mode)
                err = self.run_lookup()
                self.assertEqual(err.code, "MalformedOutput")
                self.assertIn("not shown", str(err))

    def test_timeout(self):
        self.fake(mode="sleep", sleep="20")
        start = time.monotonic()
        err = self.run_lookup(timeout=0.5)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn("0.5 seconds", str(err))
        self.assertEqual(err.code, "Timeout")
        self.assertEqual(flags(self.calls()[-1])["--timeout"], "500ms")

    def test_bad_min_validity(self):
        err = self.run_lookup(min_validity="ten minutes")
        self.assertIn("min_validity", str(err))
        self.assertEqual(self.calls(), [])

    def test_bad_term(self):
        for term in ("", "  ", 42):
            with self.subTest(term=term):
                with self.assertRaises(AnsibleLookupError):
                    load_plugin().run([term], variables={})

    def test_error_reaches_template_unchanged(self):
        # Through a Templar, as in a task: the helper's message survives, the token never shows.
        self.fake(mode="error", exit="3", message="credentials rejected for svc@vsphere.local")
        with self.assertRaises(AnsibleError) as cm:
            template("{{ lookup('%s', 'sddc', format='header') }}" % PLUGIN)
        self.assertIn("credentials rejected for svc@vsphere.local", str(cm.exception))
        self.fake(mode="garbage")
        with self.assertRaises(AnsibleError) as cm:
            template("{{ lookup('%s', 'sddc', format='header') }}" % PLUGIN)
        self.assertNoCanary(cm.exception)


if __name__ == "__main__":
    unittest.main()
