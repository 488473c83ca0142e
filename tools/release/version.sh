#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Prints the release of this checkout. The one source of truth is the git
# tag (vMAJOR.MINOR.PATCH, created by whoever cuts the release):
#
#   HEAD carries the tag vX.Y.Z and the tree is clean   ->  vX.Y.Z
#   anything else, newest reachable tag vX.Y.Z          ->  vX.Y.(Z+1)-dev
#   no tag yet                                          ->  v0.1.0-dev
#
# (v0.1.0-dev before any tag: the first release will be v0.1.0, and Packer
# compares the version without its -dev to a template's `>= 0.1.0`.)
#
# `make` stamps this into every binary; goreleaser reads the same tag (a
# snapshot's version_template gives the same vX.Y.(Z+1)-dev), so a build
# from make and one from goreleaser of the same commit agree.
set -eu
tag_glob='v[0-9]*.[0-9]*.[0-9]*'
if tag=$(git describe --tags --exact-match --match "$tag_glob" HEAD 2>/dev/null) &&
	git diff --quiet HEAD -- 2>/dev/null; then
	echo "$tag"
	exit 0
fi
last=$(git describe --tags --abbrev=0 --match "$tag_glob" HEAD 2>/dev/null) || {
	echo v0.1.0-dev
	exit 0
}
core=${last#v}
core=${core%%-*}
core=${core%%+*}
major=${core%%.*}
rest=${core#*.}
minor=${rest%%.*}
patch=${rest#*.}
echo "v$major.$minor.$((patch + 1))-dev"
