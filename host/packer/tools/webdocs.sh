#!/usr/bin/env bash
# Builds .web-docs/ (the layout the Packer integrations site reads) from docs/:
# packer-sdc renderdocs resolves the @include partials into a scratch dir, then
# every docs/<kind>s/<slug>.mdx becomes .web-docs/components/<kind>/<slug>/README.md
# without its front matter and its H1 (the site renders both from metadata.hcl),
# and docs/README.md becomes .web-docs/README.md. metadata.hcl is hand-written
# and left alone.
#
# Usage (from host/packer): tools/webdocs.sh PATH-TO-packer-sdc
set -euo pipefail

sdc=$1
out=.web-docs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$sdc" renderdocs -src docs -partials docs-partials -dst "$scratch/docs" 2>/dev/null

rm -rf "$out/components" "$out/README.md"
mkdir -p "$out"
cp "$scratch/docs/README.md" "$out/README.md"

for file in "$scratch"/docs/*/*.mdx; do
	dir=$(basename "$(dirname "$file")")
	slug=$(basename "$file" .mdx)
	case $dir in
	builders) kind=builder ;;
	provisioners) kind=provisioner ;;
	post-processors) kind=post-processor ;;
	datasources) kind=data-source ;;
	*) echo "webdocs: $file: unknown component directory $dir" >&2; exit 1 ;;
	esac
	[ "$slug" != index ] || continue
	mkdir -p "$out/components/$kind/$slug"
	# State 0: before the front matter, 1: inside it, 2: before the H1,
	# 3: dropping blank lines after the H1, 4: the body.
	awk '
		state == 0 && /^---$/ { state = 1; next }
		state == 1 { if (/^---$/) state = 2; next }
		state == 2 && /^$/ { next }
		state == 2 && /^# / { state = 3; next }
		state == 2 { state = 4 }
		state == 3 && /^$/ { next }
		state == 3 { state = 4 }
		{ print }
	' "$file" >"$out/components/$kind/$slug/README.md"
done

# Every component page needs its component block in metadata.hcl, or the site
# does not publish it.
declared=$(awk -F'"' '/type *=/ { t = $2 } /slug *=/ { print t "/" $2 }' "$out/metadata.hcl")
for dir in "$out"/components/*/*; do
	want=${dir#"$out/components/"}
	grep -qxF "$want" <<<"$declared" || {
		echo "webdocs: $out/metadata.hcl has no component block for $want" >&2
		exit 1
	}
done
