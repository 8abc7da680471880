#!/usr/bin/env bash
# Cuts the FashionMNIST sample embedded in Pilot.MLNet.dll (src/Pilot.MLNet/Data/FashionMnistSample/) from the full
# data set of the Debian package dataset-fashion-mnist: the first 6,000 training and the first 1,000 test images and
# labels, in the original IDX format with the item count in the header rewritten, compressed with `gzip -n` (no file
# name or time stamp) so that running the script again gives the same bytes.
#
# Usage: bash eng/make-fashion-subset.sh [SOURCE_FOLDER [OUTPUT_FOLDER]]
#   SOURCE_FOLDER  defaults to /usr/share/datasets/fashion-mnist (install: apt-get install dataset-fashion-mnist,
#                  or bash eng/setup.sh --data)
#   OUTPUT_FOLDER  defaults to src/Pilot.MLNet/Data/FashionMnistSample next to this script
set -euo pipefail

# Counts can be overridden from the environment (eng/gpu-pack.sh does, for a larger training subset).
TRAIN_COUNT=${TRAIN_COUNT:-6000}
TEST_COUNT=${TEST_COUNT:-1000}

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-/usr/share/datasets/fashion-mnist}
out=${2:-$here/../src/Pilot.MLNet/Data/FashionMnistSample}

[ -d "$src" ] || { echo "make-fashion-subset: source folder '$src' not found (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Big-endian 32-bit unsigned integer at byte OFFSET of stdin.
be32() { od -An -tu1 -j "$1" -N4 | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }

# The four bytes of N in big-endian order.
be32_bytes() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }

# cut NAME COUNT EXPECTED_MAGIC HEADER_BYTES RECORD_BYTES
cut_file() {
  local name=$1 count=$2 magic=$3 header=$4 record=$5
  local in="$src/$name.gz" full tmp
  [ -f "$in" ] || { echo "make-fashion-subset: '$in' not found" >&2; exit 1; }
  full=$(mktemp)
  tmp=$(mktemp)
  trap 'rm -f "$full" "$tmp"' RETURN
  # Decompress in full first: `gzip -dc | head` would end gzip with SIGPIPE, which pipefail reports as a failure.
  gzip -dc "$in" > "$full"
  head -c $((header + count * record)) "$full" > "$tmp"
  local got_magic got_count size
  got_magic=$(be32 0 < "$tmp")
  got_count=$(be32 4 < "$tmp")
  size=$(wc -c < "$tmp")
  [ "$got_magic" -eq "$magic" ] || { echo "make-fashion-subset: '$in' has magic $got_magic, expected $magic" >&2; exit 1; }
  [ "$got_count" -ge "$count" ] && [ "$size" -eq $((header + count * record)) ] ||
    { echo "make-fashion-subset: '$in' holds $got_count items, fewer than $count" >&2; exit 1; }
  { head -c 4 "$tmp"; be32_bytes "$count"; tail -c +9 "$tmp"; } | gzip -n -9 > "$out/$name.gz"
  echo "$out/$name.gz: first $count of $got_count, $(wc -c < "$out/$name.gz") bytes"
}

cut_file train-images-idx3-ubyte "$TRAIN_COUNT" 2051 16 784
cut_file train-labels-idx1-ubyte "$TRAIN_COUNT" 2049 8 1
cut_file t10k-images-idx3-ubyte "$TEST_COUNT" 2051 16 784
cut_file t10k-labels-idx1-ubyte "$TEST_COUNT" 2049 8 1

# Class balance of the sample (label: count).
for set in train t10k; do
  echo "$set labels: $(gzip -dc "$out/$set-labels-idx1-ubyte.gz" | tail -c +9 | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')"
done
