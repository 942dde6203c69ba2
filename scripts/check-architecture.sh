#!/usr/bin/env bash
# Fails when a crate depends on something its architecture invariant forbids
# (docs/architecture.md). Checked on the resolved dependency graph, so an indirect edge counts.
set -euo pipefail

fail=0
# crate | scope (all = whole tree, direct = its own dependencies) | forbidden packages
rules=(
  "berth-domain|all|sea-orm sqlx actix-web bollard git2 tokio instant-acme rustls hyper"
  "berth-events|all|sea-orm sqlx actix-web bollard git2 instant-acme rustls hyper"
  "berth-migrations|all|actix-web bollard git2 instant-acme"
  "berth-store|all|actix-web bollard git2 instant-acme hyper"
  "berth-api|direct|sea-orm sea-orm-migration sqlx bollard git2 berth-swarm berth-build"
  "berth-build|all|sea-orm sqlx actix-web berth-store berth-swarm"
  "berth-swarm|all|sea-orm sqlx actix-web berth-store berth-build git2"
  "berth-deploy|all|actix-web berth-api"
  "berth-proxy|all|sea-orm sqlx actix-web bollard berth-store berth-swarm berth-build instant-acme"
  "berth-acme|all|sea-orm sqlx actix-web bollard berth-store berth-swarm berth-build berth-proxy"
  "berth-edge|all|actix-web berth-api berth-deploy berth-build git2"
)
for rule in "${rules[@]}"; do
  IFS='|' read -r crate scope forbidden <<<"$rule"
  depth=()
  [[ $scope == direct ]] && depth=(--depth 1)
  deps=$(cargo tree --locked --offline -q -e normal -p "$crate" "${depth[@]}" --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  for f in $forbidden; do
    if grep -qx -- "$f" <<<"$deps"; then
      echo "architecture: $crate must not depend on $f ($scope dependencies); see docs/architecture.md" >&2
      fail=1
    fi
  done
done
[[ $fail -eq 0 ]] && echo "architecture: dependency directions hold"
exit $fail
