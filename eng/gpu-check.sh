#!/usr/bin/env bash
# The GPU checks in one go, from the bundle that eng/gpu-pack.sh writes into .gpu/ (this script is copied there):
#
#   1. the CUDA tests of Pilot.TorchSharp (TestCategory=Cuda: the plain path on CUDA against the CPU, the multi-tensor path
#      on CUDA against the plain path on CUDA, Auto picking MultiTensor on CUDA)      -> tests.trx, tests.log
#   2. pilot bench optimizer --device D --model SmallCnn,ResNet18 (--models)            -> bench-optimizer-D.json
#   3. pilot bench train --device D (FashionMNIST from .gpu/data)                       -> bench-train-D.json
#
# Usage: bash .gpu/gpu-check.sh [--device cuda|cpu] [--out DIR] [--models LIST] [--steps N] [--rounds N] [--libtorch DIR]
#   --device     cuda (default) or cpu (a dry run of the same commands on the CPU)
#   --models     networks of bench optimizer (default SmallCnn,ResNet18; a CPU dry run may keep to SmallCnn)
#   --out        where results go (default: $OUT when set, else .gpu/results)
#   --steps      timed steps of bench optimizer (default: its own, 200)
#   --rounds     timed epochs per optimizer of bench train (default: its own, 2)
#   --libtorch   folder holding libtorch's shared libraries (default: those of python3's PyTorch)
# The tests run first and a failure there does not stop the benchmarks; the exit status is non-zero if any part failed.
set -uo pipefail

device=cuda
out=${OUT:-}
models=SmallCnn,ResNet18
steps=()
rounds=()
libtorch=
while [ $# -gt 0 ]; do
  case $1 in
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --steps) steps=(--steps "$2"); shift 2 ;;
    --rounds) rounds=(--rounds "$2"); shift 2 ;;
    --libtorch) libtorch=$2; shift 2 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
case $device in cuda|cpu) ;; *) echo "gpu-check: --device must be cuda or cpu; got '$device'" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
for f in dotnet-rt.tar.xz cli.tar.xz tests.tar.xz; do
  [ -s "$here/$f" ] || { echo "gpu-check: $here/$f is missing; run bash eng/gpu-pack.sh first" >&2; exit 2; }
done
out=${out:-$here/results}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -z "$libtorch" ]; then
  libtorch=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) ||
    { echo "gpu-check: no --libtorch given and python3 has no PyTorch" >&2; exit 2; }
fi
[ -e "$libtorch/libtorch_cpu.so" ] || { echo "gpu-check: $libtorch holds no libtorch_cpu.so" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dotnet"
xz -dc "$here/dotnet-rt.tar.xz" | tar -C "$work/dotnet" -xf -
xz -dc "$here/cli.tar.xz" | tar -C "$work" -xf -
xz -dc "$here/tests.tar.xz" | tar -C "$work" -xf -
export DOTNET_ROOT="$work/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH="$libtorch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
dotnet="$work/dotnet/dotnet"

{
  echo "gpu-check: $(date -u +%FT%TZ), device $device, libtorch $libtorch"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nproc | sed 's/^/cpus: /'
} | tee "$out/machine.txt"

status=0
echo "== 1. CUDA tests"
# On the CPU they report Inconclusive (no CUDA device); that is the dry run's expected outcome.
"$dotnet" "$work/tests/Pilot.TorchSharp.Tests.dll" --filter "TestCategory=Cuda" \
  --results-directory "$out" --report-trx --report-trx-filename tests.trx 2>&1 | tee "$out/tests.log"
rc=${PIPESTATUS[0]}
# MSTest's runner exits 8 when every selected test was skipped (no CUDA here), 0 when all passed.
if [ "$device" = cuda ] && [ "$rc" -ne 0 ]; then status=1; fi
if [ "$device" = cpu ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 8 ]; then status=1; fi

echo "== 2. bench optimizer"
"$dotnet" "$work/cli/pilot.dll" bench optimizer --device "$device" --model "$models" "${steps[@]}" \
  --json "$out/bench-optimizer-$device.json" 2>&1 | tee "$out/bench-optimizer-$device.log" || status=1

echo "== 3. bench train"
"$dotnet" "$work/cli/pilot.dll" bench train --device "$device" --data "$here/data" "${rounds[@]}" \
  --json "$out/bench-train-$device.json" 2>&1 | tee "$out/bench-train-$device.log" || status=1

echo "gpu-check: results in $out (status $status)"
ls -la "$out"
exit $status
