#!/usr/bin/env bash
# Generates the dashboard's TypeScript client from openapi/openapi.json with openapi-generator
# (typescript-fetch; the openapi-generator-cli package from PyPI, on the machine's Java) into
# dashboard/src/api, and type-checks it.
#   scripts/generate-client.sh          write it (`make openapi` runs this)
#   scripts/generate-client.sh --check  fail if the committed client differs (`make test`)
set -euo pipefail
cd "$(dirname "$0")/.."
out=dashboard/src/api
command -v openapi-generator-cli >/dev/null || {
  echo "generate-client: openapi-generator-cli is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openapi-generator-cli generate --generator-name typescript-fetch \
  --input-spec openapi/openapi.json --output "$tmp/api" \
  --global-property apiDocs=false,modelDocs=false,apiTests=false,modelTests=false \
  --additional-properties=supportsES6=true >"$tmp/log" 2>&1 || {
  cat "$tmp/log" >&2
  exit 1
}
if [[ ${1:-} == --check ]]; then
  if ! diff -r -q "$out" "$tmp/api" >"$tmp/diff"; then
    cat "$tmp/diff" >&2
    echo "generate-client: $out is out of date: run \`make openapi\` and commit" >&2
    exit 1
  fi
else
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  cp -r "$tmp/api" "$out"
fi
# Debian's tsc (4.8) checks the generated code under its own, looser settings
# (dashboard/tsconfig.api.json): the generator relies on narrowing that strict mode in 4.8
# refuses.
tsc -p dashboard/tsconfig.api.json
echo "generate-client: $out is current and type-checks"
