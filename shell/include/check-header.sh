#!/bin/sh
# Regenerates the C header from shell/src/ffi/ with cbindgen and compares it with the
# checked-in shell/include/neigh.h. Fails (exit 1, with the diff) when the header is stale.
#   shell/include/check-header.sh          check (CI)
#   shell/include/check-header.sh --write  regenerate the checked-in header
# Needs the cbindgen CLI: cargo install cbindgen --locked
set -eu
shell_dir=$(cd "$(dirname "$0")/.." && pwd)
header="$shell_dir/include/neigh.h"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# cbindgen is given the ffi module's file, not the crate: only items under shell/src/ffi/
# reach the header, whatever other modules export.
cbindgen --quiet --config "$shell_dir/cbindgen.toml" --output "$tmp" "$shell_dir/src/ffi/mod.rs"
if [ "${1:-}" = "--write" ]; then
    cp "$tmp" "$header"
    echo "wrote $header"
elif ! diff -u "$header" "$tmp"; then
    echo "$header is stale: run shell/include/check-header.sh --write and commit it" >&2
    exit 1
fi
