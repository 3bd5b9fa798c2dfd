#!/usr/bin/env bash
# Builds sunroof_controller.wasm with Zig from PyPI (pip install ziglang==0.17.1).
# Usage: examples/sunroof/zig/build.sh [OUT.wasm]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/sunroof_controller.wasm}"
cd "$(dirname "$out")"
# Per-module flags come before each -M; each SDK file is its own module, imported by name.
sdk="$here/../../../sdk/zig"
zig_module=(-target wasm32-freestanding -O ReleaseSmall)
python3 -m ziglang build-exe -fno-entry -rdynamic --name "$(basename "$out" .wasm)" \
  "${zig_module[@]}" --dep silverline --dep sl_vss -Mroot="$here/sunroof_controller.zig" \
  "${zig_module[@]}" -Msilverline="$sdk/silverline.zig" \
  "${zig_module[@]}" -Msl_vss="$sdk/sl_vss.zig"
rm -f "$(basename "$out" .wasm).wasm.o"
