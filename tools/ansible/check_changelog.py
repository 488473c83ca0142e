#!/usr/bin/python3
"""Checks a collection's changelogs/ against antsibull-changelog's documented format.

antsibull-changelog (whose `lint` is what ansible-test's changelog sanity test runs) is
not packaged in Debian and no package index is reachable here, so this checks the
rules that matter for the hand-written files:

  config.yaml     a mapping with the keys used below, sections as [name, title] pairs;
  changelog.yaml  `ancestor` (null or a version) and `releases`, a mapping from semantic
                  versions to {release_date, changes, fragments, plugins, modules,
                  objects, codename} with only the allowed keys and types;
  fragments/      each *.yml/*.yaml a mapping from known section names to a list of
                  strings (a string for the release summary), no new plugins or modules
                  (those are listed from version_added at release time); every fragment
                  a release names exists when keep_fragments is set.

Usage: check_changelog.py COLLECTION_DIR   (exit status 1 and one line per problem)
"""

import datetime
import os
import re
import sys

import yaml

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
RELEASE_KEYS = {"release_date", "codename", "changes", "fragments", "modules", "plugins", "objects"}
PLUGIN_ENTRY_KEYS = {"name", "description", "namespace"}


def load(path, problems):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as err:
        problems.append("%s: %s" % (path, err))
        return None


def sections_of(config, problems):
    """Returns the section names a fragment may use, from config.yaml."""
    names = set()
    for entry in config.get("sections") or []:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)):
            problems.append("config.yaml: sections: %r is not a [name, title] pair" % (entry,))
            continue
        names.add(entry[0])
    names.add(config.get("prelude_section_name", "release_summary"))
    names.add(config.get("trivial_section_name", "trivial"))
    return names


def check_config(config, problems):
    if not isinstance(config, dict):
        problems.append("config.yaml: not a mapping")
        return None
    for key in ("changes_file", "notesdir", "changes_format"):
        if not isinstance(config.get(key), str):
            problems.append("config.yaml: %s must be a string" % key)
    if config.get("changes_format") not in (None, "combined"):
        problems.append("config.yaml: changes_format must be 'combined' for a collection")
    if not isinstance(config.get("keep_fragments", False), bool):
        problems.append("config.yaml: keep_fragments must be a boolean")
    return sections_of(config, problems)


def check_changes(where, changes, sections, prelude, problems):
    if not isinstance(changes, dict):
        problems.append("%s: not a mapping of sections" % where)
        return
    for section, entries in changes.items():
        if section not in sections:
            problems.append("%s: unknown section %r" % (where, section))
        elif section == prelude:
            if not isinstance(entries, str) or not entries.strip():
                problems.append("%s: %s must be a non-empty string" % (where, section))
        elif not isinstance(entries, list) or not entries or \
                not all(isinstance(e, str) and e.strip() for e in entries):
            problems.append("%s: %s must be a non-empty list of non-empty strings" % (where, section))


def check_named_entries(where, entries, problems):
    if not isinstance(entries, dict):
        problems.append("%s: not a mapping from type to entries" % where)
        return
    for kind, items in entries.items():
        for item in items if isinstance(items, list) else [None]:
            if not isinstance(item, dict) or set(item) - PLUGIN_ENTRY_KEYS or \
                    not isinstance(item.get("name"), str) or not isinstance(item.get("description"), str):
                problems.append("%s.%s: entries need a name and a description (and optionally a namespace)"
                                % (where, kind))


def check_release(version, release, sections, prelude, problems):
    where = "changelog.yaml: releases: %s" % version
    if not SEMVER.match(str(version)):
        problems.append("%s: not a semantic version" % where)
    if not isinstance(release, dict):
        problems.append("%s: not a mapping" % where)
        return []
    for key in sorted(set(release) - RELEASE_KEYS):
        problems.append("%s: unknown key %r" % (where, key))
    date = release.get("release_date")
    if isinstance(date, str):
        try:
            datetime.date.fromisoformat(date)
        except ValueError:
            problems.append("%s: release_date %r is not YYYY-MM-DD" % (where, date))
    elif not isinstance(date, datetime.date):
        problems.append("%s: release_date is missing" % where)
    if "changes" in release:
        check_changes(where + ": changes", release["changes"], sections, prelude, problems)
    for key in ("modules", "objects"):
        if key in release and not isinstance(release[key], (list, dict)):
            problems.append("%s: %s must be a list" % (where, key))
    if "plugins" in release:
        check_named_entries(where + ": plugins", release["plugins"], problems)
    fragments = release.get("fragments", [])
    if not isinstance(fragments, list) or not all(isinstance(f, str) for f in fragments):
        problems.append("%s: fragments must be a list of file names" % where)
        return []
    return fragments


def check_changelog(doc, sections, prelude, problems):
    if not isinstance(doc, dict) or set(doc) - {"ancestor", "releases"}:
        problems.append("changelog.yaml: must be a mapping with only ancestor and releases")
        return []
    ancestor = doc.get("ancestor")
    if ancestor is not None and not SEMVER.match(str(ancestor)):
        problems.append("changelog.yaml: ancestor must be null or a semantic version")
    releases = doc.get("releases")
    if not isinstance(releases, dict):
        problems.append("changelog.yaml: releases must be a mapping (empty before the first release)")
        return []
    named = []
    for version, release in releases.items():
        named.extend(check_release(version, release, sections, prelude, problems))
    return named


def check_fragment(name, doc, sections, prelude, problems):
    where = "fragments/%s" % name
    if not isinstance(doc, dict) or not doc:
        problems.append("%s: not a mapping of sections" % where)
        return
    for forbidden in ("add plugin.lookup", "add plugin.module", "modules", "plugins"):
        if forbidden in doc:
            problems.append("%s: new plugins and modules are listed at release time, not in fragments" % where)
    check_changes(where, doc, sections, prelude, problems)


def check(collection):
    """Returns the problems found in COLLECTION/changelogs, as strings."""
    problems = []
    base = os.path.join(collection, "changelogs")
    config = load(os.path.join(base, "config.yaml"), problems)
    if config is None:
        return problems
    sections = check_config(config, problems)
    if sections is None:
        return problems
    prelude = config.get("prelude_section_name", "release_summary")
    changes = load(os.path.join(base, config["changes_file"]), problems)
    named = check_changelog(changes, sections, prelude, problems)
    notes = os.path.join(base, config["notesdir"])
    present = sorted(f for f in os.listdir(notes) if f.endswith((".yml", ".yaml"))) if os.path.isdir(notes) else []
    for name in present:
        check_fragment(name, load(os.path.join(notes, name), problems), sections, prelude, problems)
    if config.get("keep_fragments"):
        for name in named:
            if name not in present:
                problems.append("changelog.yaml: a release names fragment %s, which is not in %s/"
                                % (name, config["notesdir"]))
    return problems


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    problems = check(argv[1])
    for problem in problems:
        print("check_changelog: %s" % problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("check_changelog: %s/changelogs is in antsibull-changelog's format" % argv[1])


if __name__ == "__main__":
    main(sys.argv)
