#!/bin/sh
# bench.sh - `make bench`: tokenizer encoding speed on one core and forward-pass speed on
# the shared vector models (when ../shared is present). Numbers only; nothing is asserted.
BUILD=${BUILD:-build}
SHARED=${LC_SHARED:-../shared}
echo "== tokenizer (1 thread)"
if [ -f "$SHARED/data/tokenizer/tokenizer.json" ]; then
    "$BUILD/bench_tok_bench" "$SHARED/data/tokenizer/tokenizer.json" "$SHARED/data/corpus"
else
    echo "skipped: $SHARED/data/tokenizer/tokenizer.json not found"
fi
echo "== forward pass (reference kernels)"
for f in "$SHARED/vectors/quant/model-f32.gguf" "$SHARED/vectors/quant/model-q8_0.gguf" "$SHARED/vectors/quant/model-q4_k.gguf"; do
    [ -f "$f" ] || { echo "skipped: $f not found"; continue; }
    echo "-- $f"
    ./llamac run -m "$f" --tokens "510 1 2 3 4 5 6 7" -n 128 --temp 0 --verbose >/dev/null 2>/tmp/llamac-bench.$$ || true
    grep -E "tokens/s|memory" /tmp/llamac-bench.$$
    rm -f /tmp/llamac-bench.$$
done
