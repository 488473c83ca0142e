"""Tests of check_changelog.py: the committed changelogs pass, each broken rule fails.

Run: /usr/bin/python3 -m unittest discover -s tools/ansible -v
"""

import os
import shutil
import tempfile
import textwrap
import unittest

import check_changelog

COLLECTION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "host", "ansible")

GOOD_RELEASE = textwrap.dedent("""\
    ancestor: null
    releases:
      1.0.0:
        release_date: '2026-12-01'
        changes:
          release_summary: First release.
          minor_changes:
            - Something.
        fragments:
          - 1.0.0.yml
        plugins:
          lookup:
            - name: token
              description: fetch a valid bearer token
              namespace: null
    """)


class CheckChangelogTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tk-changelog-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        shutil.copytree(os.path.join(COLLECTION, "changelogs"), os.path.join(self.dir, "changelogs"))

    def write(self, rel, text):
        with open(os.path.join(self.dir, "changelogs", rel), "w") as f:
            f.write(text)

    def assertProblem(self, needle):
        problems = check_changelog.check(self.dir)
        self.assertTrue(any(needle in p for p in problems), "want a problem with %r, got %r" % (needle, problems))

    def test_committed_changelogs_pass(self):
        self.assertEqual(check_changelog.check(COLLECTION), [])

    def test_a_well_formed_release_passes(self):
        self.write("changelog.yaml", GOOD_RELEASE)
        self.assertEqual(check_changelog.check(self.dir), [])

    def test_unknown_fragment_section(self):
        self.write("fragments/x.yml", "new_features:\n  - nope\n")
        self.assertProblem("unknown section 'new_features'")

    def test_fragment_section_must_be_a_list(self):
        self.write("fragments/x.yml", "bugfixes: just a string\n")
        self.assertProblem("bugfixes must be a non-empty list")

    def test_release_summary_must_be_a_string(self):
        self.write("fragments/x.yml", "release_summary:\n  - a list\n")
        self.assertProblem("release_summary must be a non-empty string")

    def test_new_plugins_are_not_fragments(self):
        self.write("fragments/x.yml", "add plugin.lookup:\n  - name: other\n    description: x\n")
        self.assertProblem("listed at release time")

    def test_version_must_be_semantic(self):
        self.write("changelog.yaml", GOOD_RELEASE.replace("1.0.0:", "1.0:"))
        self.assertProblem("not a semantic version")

    def test_release_date_format(self):
        self.write("changelog.yaml", GOOD_RELEASE.replace("'2026-12-01'", "'1 Dec 2026'"))
        self.assertProblem("is not YYYY-MM-DD")

    def test_unknown_release_key(self):
        self.write("changelog.yaml", GOOD_RELEASE.replace("\n    changes:\n", "\n    change:\n"))
        self.assertProblem("unknown key 'change'")

    def test_named_fragment_must_exist(self):
        self.write("changelog.yaml", GOOD_RELEASE.replace("- 1.0.0.yml", "- gone.yml"))
        self.assertProblem("names fragment gone.yml")

    def test_plugin_entries_need_a_name(self):
        self.write("changelog.yaml", GOOD_RELEASE.replace("- name: token", "- nom: token"))
        self.assertProblem("entries need a name")

    def test_top_level_keys(self):
        self.write("changelog.yaml", "ancestor: null\nreleases: {}\nextra: 1\n")
        self.assertProblem("only ancestor and releases")


if __name__ == "__main__":
    unittest.main()
