#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# version-check.sh VERSION: the files that carry a version of their own
# agree with the git tag (tools/release/version.sh), the one source of
# truth. At a release (vX.Y.Z, no "-dev"):
#   - host/ansible/galaxy.yml has `version: X.Y.Z` (ansible-galaxy reads
#     only that file, so it cannot be stamped at build time);
#   - CHANGELOG.md has a `## [X.Y.Z]` section.
# Between releases only CHANGELOG.md's `## [Unreleased]` section is required.
set -eu
cd "$(dirname "$0")/../.."
version=${1:?usage: version-check.sh VERSION}
fail() { echo "version-check: $*" >&2; exit 1; }
case $version in
*-dev)
	grep -q '^## \[Unreleased\]' CHANGELOG.md || fail "CHANGELOG.md has no '## [Unreleased]' section"
	echo "version-check: $version is a development build; galaxy.yml says $(sed -n 's/^version: *//p' host/ansible/galaxy.yml)"
	;;
v[0-9]*)
	want=${version#v}
	got=$(sed -n 's/^version: *//p' host/ansible/galaxy.yml)
	[ "$got" = "$want" ] || fail "host/ansible/galaxy.yml has version '$got', the tag says $want"
	grep -q "^## \[$want\]" CHANGELOG.md || fail "CHANGELOG.md has no '## [$want]' section"
	echo "version-check: $version: galaxy.yml and CHANGELOG.md agree"
	;;
*) fail "'$version' is not a release (vX.Y.Z) or development (vX.Y.Z-dev) version" ;;
esac
