#!/bin/sh
# compare_llamacpp.sh - do llama.cpp and llamac read our GGUF files the same way?
#
# For every weight type: `llamac quantize` turns the golden `quant` case of ../shared/vectors
# (dim 256, every row a multiple of 256) into that type, and `llamac make-model --shape tiny`
# writes a random model with the real Llama 3 tokenizer section; llama.cpp (the npm build
# that `make bench` uses, see scripts/bench.sh) then loads each file and its logits are
# compared with `llamac logits --exact` on the same file. A block layout that differed from
# llama.cpp's would give errors near 100%; llama.cpp's own arithmetic (f16 KV cache, 8-bit
# activations) accounts for a few percent, as its figure on its own Q4_K/Q6_K files against
# the golden logits shows (last lines). Prints one line per file; exits non-zero when
# llama.cpp refuses a file or disagrees by more than 10% RMS.
#
#   scripts/compare_llamacpp.sh            (after `make`; fetches llama.cpp like make bench)
set -u
LLAMAC=${LLAMAC:-./llamac}
BUILD=${BUILD:-build}
SHARED=${LC_SHARED:-../shared}
DIR=${LLAMAC_BENCH_DIR:-${HOME:-/tmp}/.cache/llamac-bench}
LCPP_VERSION=3.22.1
LIB="$DIR/llamacpp-$LCPP_VERSION/bins/linux-x64"
Q="$SHARED/vectors/quant"

if [ ! -f "$LIB/libllama.v0.5.0.so" ]; then
    echo "llama.cpp not fetched yet: run make bench once (it fetches it before the first model)" >&2
    exit 2
fi
[ -f "$Q/model-f32.gguf" ] || { echo "skipped: $Q not found" >&2; exit 0; }
${CC:-cc} -O2 -o "$BUILD/llamacpp_bench" scripts/llamacpp_bench.c -ldl -lm || exit 1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/llamac-cmp.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# token ids of the golden sequence seq100
TOK=$(tr -d '\n ' <"$Q/tokens.json" | sed 's/.*"seq100":\[\([0-9,]*\)\].*/\1/' | tr ',' ' ')
FAIL=0

check() {   # check LABEL FILE TOKENS REFERENCE_LOGITS
    out=$("$BUILD/llamacpp_bench" --logits "$LIB" "$2" "$3" "$4" 2>"$TMP/err") || {
        printf '%-34s llama.cpp failed: %s\n' "$1" "$(tail -1 "$TMP/err")"
        FAIL=1
        return
    }
    printf '%-34s %s\n' "$1" "$out"
    awk -v r="$(printf '%s' "$out" | sed 's/.*"rel_rms": \([0-9.e+-]*\).*/\1/')" 'BEGIN { exit !(r <= 0.10) }' || FAIL=1
}

echo "== llamac quantize of the golden 'quant' case (100 tokens): llama.cpp vs llamac --exact on the same file"
for t in F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K Q4_K_M Q6_K; do
    f="$TMP/quant-$t.gguf"
    if ! "$LLAMAC" quantize "$Q/model-f32.gguf" "$f" "$t" >/dev/null 2>"$TMP/err"; then
        printf '%-34s llamac quantize failed: %s\n' "quantize $t" "$(tail -1 "$TMP/err")"
        FAIL=1
        continue
    fi
    "$LLAMAC" logits --exact -t 2 -m "$f" --tokens "$TOK" -o "$TMP/ref.bin" || { FAIL=1; continue; }
    check "quantize $t" "$f" "$TOK" "$TMP/ref.bin"
done

echo "== llamac make-model --shape tiny (real tokenizer, 12 tokens)"
TOK2="128000 791 4062 14198 39935 35308 927 279 16053 5679 13 578"
for t in f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k; do
    f="$TMP/tiny-$t.gguf"
    "$LLAMAC" make-model --shape tiny --type "$t" -o "$f" -q >/dev/null 2>&1 || { echo "make-model $t failed"; FAIL=1; continue; }
    "$LLAMAC" logits --exact -t 2 -m "$f" --tokens "$TOK2" -o "$TMP/ref.bin" || { FAIL=1; continue; }
    check "make-model tiny $t" "$f" "$TOK2" "$TMP/ref.bin"
done

echo "== yardstick: llama.cpp on the files its own quantizer made, vs the golden float64 logits"
for t in q4_k q6_k; do
    check "shared model-$t.gguf" "$Q/model-$t.gguf" "$TOK" "$Q/logits_${t}_seq100.f32"
done
[ "$FAIL" = 0 ] && echo "all files read alike" || echo "DIFFERENCES: see above"
exit "$FAIL"
