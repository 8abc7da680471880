#!/usr/bin/env bash
# Packs what eng/gpu-check.sh needs into .gpu/ (git-ignored), for a GPU machine that has no .NET SDK and no network
# but has Python's PyTorch with CUDA (whose libtorch the bundle uses instead of the CPU libtorch of this build):
#
#   .gpu/dotnet-rt.tar.xz   the .NET runtime of this machine (made once, then reused)
#   .gpu/cli.tar.xz         `dotnet publish` of src/Pilot.Cli (framework-dependent, linux-x64), without libtorch
#   .gpu/tests.tar.xz       `dotnet publish` of test/Pilot.TorchSharp.Tests as a self-running MSTest executable, without libtorch
#   .gpu/data/              FashionMNIST IDX files for `bench train` (the first --train-images training images)
#   .gpu/gpu-check.sh       a copy of eng/gpu-check.sh, the script the GPU machine runs
#
# Usage: bash eng/gpu-pack.sh [--data DIR] [--train-images N]
#   --data DIR          FashionMNIST IDX folder (default /usr/share/datasets/fashion-mnist)
#   --train-images N    training images kept for `bench train` (default 20,000 of 60,000, which keeps the whole bundle
#                       under 64 MiB; the full set adds ~18 MB; 60000 keeps them all)
# Then, on the GPU machine, from the folder that holds .gpu/:   bash .gpu/gpu-check.sh --device cuda
# Dry run on a CPU machine:  bash .gpu/gpu-check.sh --device cpu --libtorch DIR   (DIR: a folder with the CPU libtorch)
set -euo pipefail

data=/usr/share/datasets/fashion-mnist
train_images=20000
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --train-images) train_images=$2; shift 2 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
[ -d "$data" ] || { echo "gpu-pack: FashionMNIST folder '$data' not found (bash eng/setup.sh --data, or --data DIR)" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .gpu

if [ ! -s .gpu/dotnet-rt.tar.xz ]; then
  dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
  rt=$(ls -d "$dn"/shared/Microsoft.NETCore.App/* | sort -V | tail -1)
  echo "gpu-pack: packing the .NET runtime $(basename "$rt") (once)"
  tar -C "$dn" --exclude=createdump --exclude='libmscordbi.so' --exclude='libmscordaccore.so' --exclude='*.pdb' \
    -cf - dotnet host "shared/Microsoft.NETCore.App/$(basename "$rt")" | xz -9 -T0 > .gpu/dotnet-rt.tar.xz
fi

# publish PROJECT NAME [msbuild properties...]: framework-dependent linux-x64 build without libtorch, as .gpu/NAME.tar.xz
publish() {
  local project=$1 name=$2; shift 2
  local dir=.gpu/$name
  rm -rf "$dir"
  dotnet publish "$project" -c Release -r linux-x64 --self-contained false -o "$dir" -v quiet -nologo "$@"
  # The CPU libtorch (hundreds of MB) would shadow the GPU machine's CUDA libtorch: TorchSharp's glue library stays.
  find "$dir" -maxdepth 1 \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' -o -name 'libshm*.so*' \
    -o -name 'libbackend_with_compiler.so' -o -name 'libjitbackend_test.so' -o -name 'libnnapi_backend.so' \
    -o -name 'libaoti_custom_ops.so' -o -name 'libtorchbind_test.so' -o -name '*.pdb' \) -delete
  # Code coverage's native instrumentation (30 MB) is not used by these runs.
  rm -rf "$dir/Microsoft.CodeCoverage" "$dir/libInstrumentationEngine.so"
  tar -C .gpu -cf - "$name" | xz -9 -T0 > ".gpu/$name.tar.xz"
  rm -rf "$dir"
}
publish src/Pilot.Cli/Pilot.Cli.csproj cli
# MSTest's own runner makes the test assembly an executable, so no SDK is needed to run the tests there.
publish test/Pilot.TorchSharp.Tests/Pilot.TorchSharp.Tests.csproj tests -p:EnableMSTestRunner=true -p:OutputType=Exe

rm -rf .gpu/data
if [ "$train_images" -ge 60000 ]; then
  mkdir -p .gpu/data && cp "$data"/*-ubyte.gz .gpu/data/
else
  TRAIN_COUNT=$train_images TEST_COUNT=1000 bash eng/make-fashion-subset.sh "$data" .gpu/data
fi
cp eng/gpu-check.sh .gpu/gpu-check.sh
du -sh .gpu/*.tar.xz .gpu/data | sed 's/^/  /'
du -sh .gpu | awk '{print "gpu-pack: .gpu is " $1}'
echo 'gpu-pack: on the GPU machine run: bash .gpu/gpu-check.sh --device cuda'
