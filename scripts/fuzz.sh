#!/bin/sh
# fuzz.sh - builds the libFuzzer targets in tests/fuzz (clang, ASan + UBSan) and runs each
# for N seconds (default 60) seeded with the shared model files.
# usage: scripts/fuzz.sh [seconds] [target...]   targets: gguf safetensors (default: both)
set -e
cd "$(dirname "$0")/.."
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-gguf safetensors}
SHARED=${LC_SHARED:-../shared}
OUT=${FUZZ_DIR:-build/fuzz}
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT"
FLAGS="-std=c17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Iinclude -Isrc"
for t in $TARGETS; do
    bin="$OUT/fuzz_$t"
    $CC $FLAGS -o "$bin" "tests/fuzz/fuzz_$t.c" src/util.c src/quant.c src/gguf.c src/safetensors.c \
        -ljansson -lm -pthread
    corpus="$OUT/corpus_$t"
    mkdir -p "$corpus"
    seeds="$OUT/seeds_$t"
    rm -rf "$seeds"
    mkdir -p "$seeds"
    if [ -d "$SHARED/vectors" ]; then
        case $t in
        gguf)
            # the small files whole; big ones cut to their header (the rest is tensor data)
            for f in "$SHARED"/vectors/*/model-*.gguf; do
                c=$(basename "$(dirname "$f")")
                head -c 16384 "$f" > "$seeds/$c-$(basename "$f")"
            done
            cp "$SHARED/vectors/tiny/model-q8_0.gguf" "$seeds/tiny-whole-q8_0.gguf" ;;
        safetensors)
            for f in "$SHARED"/vectors/*/model.safetensors; do
                c=$(basename "$(dirname "$f")")
                head -c 4096 "$f" > "$seeds/$c-head.safetensors"
            done
            cp "$SHARED/vectors/mha/model.safetensors" "$seeds/mha-whole.safetensors" ;;
        esac
    fi
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    echo "fuzz_$t: ${SECS}s" >&2
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$bin" -max_total_time="$SECS" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=1048576 -timeout=10 $dict \
        -artifact_prefix="$OUT/crash_${t}_" "$corpus" "$seeds"
done
