#!/usr/bin/env bash
# The MIT crate as a crates.io user gets it: a new cargo project outside the workspace depends on the
# unpacked `cargo package` output (features actix, tera, reqwest, diesel, and the test kit), builds,
# migrates an empty SQLite file, takes a payment through the test kit, and finds the payment and its log
# row again after a restart (.ci/packaged-shop/src/main.rs). Run after `cargo package -p payment-buttons`.
# Offline and quick: the workspace's Cargo.lock pins the same versions, the local registry cache has
# them, and the workspace's target directory already holds most of the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
crate=$(ls target/package/payment-buttons-*.crate | sort | tail -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -xzf "$crate" -C "$scratch"
mv "$scratch"/payment-buttons-* "$scratch/payment-buttons"
cp -r .ci/packaged-shop "$scratch/shop"
cp Cargo.lock "$scratch/shop/Cargo.lock"
cd "$scratch/shop"
echo "+ cargo run --offline (in $scratch/shop, against $crate)"
CARGO_TARGET_DIR="$root/target" cargo run --offline --quiet
