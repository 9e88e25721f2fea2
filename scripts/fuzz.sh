#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that take outside input (issue #17): the cargo-fuzz
# targets in fuzz/ (NIK, KPJ, money, months, dates, phones, region codes; a participants row; a
# contributions row; a wage report; a new password), each for a bounded time
# (CAKUPAN_FUZZ_SECONDS, default 15). A crash fails the run and leaves its input under
# fuzz/artifacts/. libFuzzer needs a nightly toolchain: without one this says so and stops (the
# same parsers are property-tested on stable by `cargo test`, tests/it/parsers.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${CAKUPAN_FUZZ_SECONDS:-15}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "== no nightly toolchain: the cargo-fuzz run is skipped (the property tests of the same parsers ran)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (crates.io)"
  cargo install --locked cargo-fuzz
fi
target_dir="${CAKUPAN_FUZZ_TARGET_DIR:-$HOME/.cache/cakupan/fuzz-target}"
cd fuzz
cargo +nightly fuzz build -O --target-dir "$target_dir"
for t in $(cargo +nightly fuzz list); do
  echo "== fuzzing $t for ${seconds}s"
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run -O --target-dir "$target_dir" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E '^(Done|INFO: Running|==[0-9]+==|SUMMARY|stat::number_of_executed_units|thread .* panicked)' || true
  # A crash makes cargo fuzz exit non-zero above only through the pipe; check the artifacts.
  if compgen -G "artifacts/$t/crash-*" >/dev/null; then
    echo "fuzzing $t found a crash: fuzz/artifacts/$t" >&2
    exit 1
  fi
done
