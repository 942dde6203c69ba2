#!/usr/bin/env bash
# Builds the dashboard into dashboard/dist (index.html, assets/app.js, assets/app.css), which
# berth embeds when it is compiled (crates/berth-api/build.rs) and serves at /. Type-checks
# first: the generated client under its own settings (emitting its declarations), then the
# app, strictly, against them. React and its types come from Debian's packages.
#   scripts/build-dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/../dashboard"
for tool in tsc esbuild; do
  command -v "$tool" >/dev/null || {
    echo "build-dashboard: $tool is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done
rm -rf build dist
tsc -p tsconfig.api.json
tsc -p tsconfig.json
mkdir -p dist/assets
NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs esbuild src/main.tsx --bundle --minify \
  --format=esm --target=es2020 --jsx=automatic --alias:@api=./src/api \
  --define:process.env.NODE_ENV='"production"' --legal-comments=none \
  --outfile=dist/assets/app.js --log-level=warning
cp src/app.css dist/assets/app.css
cp index.html dist/index.html
echo "build-dashboard: dist/assets/app.js $(stat -c %s dist/assets/app.js) bytes," \
  "$(gzip -9 -c dist/assets/app.js | wc -c) gzipped"
