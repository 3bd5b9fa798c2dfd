#!/usr/bin/env bash
# Builds sunroof_controller.wasm with Zig from PyPI (pip install ziglang==0.17.1).
# Usage: examples/sunroof/zig/build.sh [OUT.wasm]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/sunroof_controller.wasm}"
cd "$(dirname "$out")"
# Per-module flags come before each -M; the SDK is its own module, imported as "sl_vss".
python3 -m ziglang build-exe -fno-entry -rdynamic --name "$(basename "$out" .wasm)" \
  -target wasm32-freestanding -O ReleaseSmall --dep sl_vss -Mroot="$here/sunroof_controller.zig" \
  -target wasm32-freestanding -O ReleaseSmall -Msl_vss="$here/../../../sdk/zig/sl_vss.zig"
rm -f "$(basename "$out" .wasm).wasm.o"
