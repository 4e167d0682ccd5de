#!/usr/bin/env bash
# Runs golangci-lint (version pinned in tools/go.mod, built from the Go module
# proxy by `go tool` and cached in the Go build cache) with .golangci.yml over
# the whole tree. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
# tools/ is a module of its own so that the linter's dependencies never
# reach the product's go.mod. `go tool -n` builds the tool (once per
# version) and prints its path.
lint=$(go -C tools tool -n golangci-lint)
# Several worktrees on one machine may lint at once: without the flag a
# second run fails ("parallel golangci-lint is running").
exec "$lint" run --allow-parallel-runners ./... "$@"
