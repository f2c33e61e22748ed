#!/bin/sh
# default_models.sh - retrains the bundled default models from scratch (what
# `make default-models [CORPUS=FILE]` runs), in under an hour on 2 cores:
#   1. a byte-level BPE tokenizer learned on the corpus + rendered synthetic chats;
#   2. models/default-base.gguf: a small Llama 3 architecture model pretrained on the corpus;
#   3. models/default-chat.gguf: the base fully fine-tuned on synthetic tool-calling chats
#      (build/gen_toolchat), then evaluated on held-out prompts (llamac eval-tools);
#   4. models/MODEL_CARD-base.md and models/MODEL_CARD-chat.md with the figures of this run.
# Usage: scripts/default_models.sh [CORPUS]   (default: $LC_SHARED or ../shared,
# data/corpus/tinyshakespeare.txt). Work files and logs go to build/default-models/.
# The models are replaced only when every step succeeded. LC_REUSE=1 keeps the work files
# of an earlier run (tokenizer, base, chat model, evaluation) that are already there and
# redoes only what is missing, e.g. after an interrupted run.
set -eu

cd "$(dirname "$0")/.."
SHARED=${LC_SHARED:-../shared}
CORPUS=${1:-$SHARED/data/corpus/tinyshakespeare.txt}
[ -n "$CORPUS" ] || CORPUS=$SHARED/data/corpus/tinyshakespeare.txt
if [ ! -f "$CORPUS" ]; then
    echo "error: corpus '$CORPUS' not found: pass one (make default-models CORPUS=FILE) or set LC_SHARED" >&2
    exit 1
fi
LLAMAC=./llamac
GEN=./build/gen_toolchat
for b in "$LLAMAC" "$GEN"; do
    [ -x "$b" ] || { echo "error: $b is missing: run make first" >&2; exit 1; }
done
W=${LC_DM_WORK:-build/default-models}
OUT=${LC_DM_OUT:-models}
mkdir -p "$W" "$OUT"

# ---- the recipe (LC_DM_<NAME> in the environment overrides NAME, e.g. for a quick
# trial run with LC_DM_WORK and LC_DM_OUT pointing elsewhere) -----------------------------
VOCAB=${LC_DM_VOCAB:-4096}          # BPE tokens (+ 256 Llama 3.1 special tokens)
RENDER_N=${LC_DM_RENDER_N:-2000}    # rendered chats mixed into the tokenizer corpus
SHAPE=${LC_DM_SHAPE:-"--dim 256 --layers 6 --heads 8 --kv-heads 4 --ctx 256"}
PRE=${LC_DM_PRE:-"--steps 400 --batch 16 --lr 2e-3 --min-lr 1e-4 --warmup 40 --wd 0.1 --val-every 50 --seed 1337"}
CHAT_SEED=${LC_DM_CHAT_SEED:-1}; CHAT_N=${LC_DM_CHAT_N:-8000}   # fine-tuning conversations (gen_toolchat train split)
FT=${LC_DM_FT:-"--ctx 1024 --steps 1200 --batch 8 --lr 1.5e-3 --min-lr 5e-5 --warmup 50 --wd 0 --val-every 100 --seed 1337"}
EVAL_SEED=${LC_DM_EVAL_SEED:-2}; EVAL_N=${LC_DM_EVAL_N:-200}    # held-out evaluation prompts (gen_toolchat --eval-prompts)

REUSE=${LC_REUSE:-0}
say() { echo "default-models: $*" >&2; }
# step NAME OUTPUT: 0 when the step must run (its output is missing or LC_REUSE is not 1)
todo() {
    if [ "$REUSE" = 1 ] && [ -s "$W/$1" ] && [ -s "$W/$1.seconds" ]; then
        say "reusing $W/$1"
        return 1
    fi
    rm -f "$W/$1" "$W/$1.seconds"
    STEP_T0=$(date +%s)
    return 0
}
done_step() { echo $(( $(date +%s) - STEP_T0 )) > "$W/$1.seconds"; }
secs() { cat "$W/$1.seconds"; }

say "1/4 tokenizer ($VOCAB tokens) on $CORPUS + $RENDER_N rendered chats"
if todo tokenizer.json; then
    "$GEN" --seed 7 --n "$RENDER_N" --render > "$W/render.txt"
    "$LLAMAC" train-tokenizer -f "$CORPUS" -f "$W/render.txt" --vocab "$VOCAB" -o "$W/tokenizer.json"
    done_step tokenizer.json
fi

say "2/4 pretraining the base model"
if todo default-base.gguf; then
    # shellcheck disable=SC2086
    "$LLAMAC" train -f "$CORPUS" --tokenizer "$W/tokenizer.json" $SHAPE $PRE --f16 --log-every 25 \
        --name llamac-default-base -o "$W/default-base.gguf" 2>&1 | tee "$W/base.log"
    [ -s "$W/default-base.gguf" ] || { echo "error: pretraining failed (see $W/base.log)" >&2; exit 1; }
    done_step default-base.gguf
fi

say "3/4 fine-tuning the chat model on $CHAT_N synthetic tool-calling conversations"
if todo default-chat.gguf; then
    "$GEN" --seed "$CHAT_SEED" --n "$CHAT_N" > "$W/chat-train.jsonl"
    # shellcheck disable=SC2086
    "$LLAMAC" finetune -m "$W/default-base.gguf" -f "$W/chat-train.jsonl" $FT --f16 --log-every 25 \
        --name llamac-default-chat -o "$W/default-chat.gguf" 2>&1 | tee "$W/chat.log"
    [ -s "$W/default-chat.gguf" ] || { echo "error: fine-tuning failed (see $W/chat.log)" >&2; exit 1; }
    done_step default-chat.gguf
fi

say "4/4 evaluating tool calls on $EVAL_N held-out prompts"
if todo eval.txt; then
    "$GEN" --seed "$EVAL_SEED" --n "$EVAL_N" --eval-prompts > "$W/heldout.jsonl"
    "$LLAMAC" eval-tools -m "$W/default-chat.gguf" -f "$W/heldout.jsonl" --json > "$W/eval.txt"
    done_step eval.txt
fi
cat "$W/eval.txt"

# ---- figures for the model cards ---------------------------------------------------------
# the last progress line: "step N/N loss L val V lr X tok/s R eta 0s"
last() { grep '^step [0-9]*/[0-9]* loss' "$1" | tail -1; }
field() { last "$2" | sed -n "s|.* $1 \([0-9.e+-]*\).*|\1|p"; }
BASE_LOSS=$(field loss "$W/base.log"); BASE_VAL=$(field val "$W/base.log"); BASE_TPS=$(field tok/s "$W/base.log")
CHAT_LOSS=$(field loss "$W/chat.log"); CHAT_VAL=$(field val "$W/chat.log"); CHAT_TPS=$(field tok/s "$W/chat.log")
BASE_STEPS=$(last "$W/base.log" | sed 's/^step [0-9]*\/\([0-9]*\).*/\1/')
CHAT_STEPS=$(last "$W/chat.log" | sed 's/^step [0-9]*\/\([0-9]*\).*/\1/')
PARAMS=$(sed -n 's/.*; \([0-9]*\) parameters.*/\1/p' "$W/base.log" | tail -1)
opt() { echo "$2" | sed -n "s/.*--$1 \([^ ]*\).*/\1/p"; }
PRE_BATCH=$(opt batch "$PRE"); FT_BATCH=$(opt batch "$FT"); CTX=$(opt ctx "$SHAPE")
BASE_DATA=$(grep -m1 'tokens (' "$W/base.log" | sed 's/^train: //; s/;.*//')
CHAT_DATA=$(grep 'conversations (' "$W/chat.log" | head -1 | sed 's/^train: //')
JSON=$(tail -1 "$W/eval.txt")
num() { echo "$JSON" | sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
SAMPLE_BASE=$("$LLAMAC" run -m "$W/default-base.gguf" -p "ROMEO:" -n 80 --temp 0 2>/dev/null)
REQ='{"messages": [{"role": "user", "content": "What is the weather like in Lisbon right now?"}], "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}]}'
echo "$REQ" > "$W/sample-request.json"
"$LLAMAC" prompt -f "$W/sample-request.json" > "$W/sample-prompt.txt"
SAMPLE_CHAT=$("$LLAMAC" run -m "$W/default-chat.gguf" -f "$W/sample-prompt.txt" --special --no-bos -n 64 --temp 0 2>/dev/null)
SAMPLE_PLAIN=$(echo "Hello! Who are you?" | "$LLAMAC" chat -m "$W/default-chat.gguf" --temp 0 -n 64 2>/dev/null)
INFO=$("$LLAMAC" info -m "$W/default-base.gguf")
info() { echo "$INFO" | sed -n "s/^$1: *//p" | head -1; }
SHA=$(sha256sum "$CORPUS" | cut -c1-16)
CORPUS_NAME=$(basename "$CORPUS")
case "$CORPUS_NAME" in
tinyshakespeare.txt)
    SOURCE='"tiny shakespeare", ~40k lines of Shakespeare plays (1,115,394 bytes, ASCII), from GitHub `karpathy/char-rnn`, `data/tinyshakespeare/input.txt` (commit 6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e). Licence: the text is Shakespeare, public domain; the repository states "License: MIT".' ;;
sotu.txt)
    SOURCE='US presidential State of the Union addresses (1,279,319 bytes, ASCII), from GitHub `nathanael-fijalkow/LLM_from_scratch`, `sotu.txt` (commit 13d956c50a08745a9e91ec28cb422e12455ff9a5). Licence: works of the US federal government, public domain; the repository is MIT.' ;;
*)
    SOURCE="\`$CORPUS_NAME\` (given with CORPUS=; see its own source and licence)" ;;
esac
SIZE_B=$(wc -c < "$W/default-base.gguf"); SIZE_C=$(wc -c < "$W/default-chat.gguf")
mins() { echo $(( ($1 + 30) / 60 )); }
TOTAL=$(( $(secs tokenizer.json) + $(secs default-base.gguf) + $(secs default-chat.gguf) + $(secs eval.txt) ))

cat > "$W/MODEL_CARD-base.md" <<EOF
# llamac default base model (\`models/default-base.gguf\`)

A small Llama 3 architecture language model trained from scratch by llamac itself, in C, on
$CORPUS_NAME. It writes text of that kind; it is a demonstration and test model, not a useful
assistant. The chat model (MODEL_CARD-chat.md) is fine-tuned from it.

## Architecture
Llama 3.1: token embedding ($(info vocab) ids), $(info layers) transformer blocks of dim $(info dim), attention heads:
$(info heads) (GQA), RMSNorm (eps 1e-5), RoPE (theta 500000, Llama 3.1 scaling), SwiGLU
feed-forward of $(info ffn), output tied to the embedding; context $(info "context length") tokens.
$PARAMS parameters, stored as F16 ($SIZE_B bytes).

Tokenizer: Llama-3-style byte-level BPE (the Llama 3 pre-tokenizer regex, 256 byte tokens,
$((VOCAB - 256)) learned merges, then the 256 Llama 3.1 special tokens: $((VOCAB + 256)) ids), learned by
\`llamac train-tokenizer\` on the corpus plus $RENDER_N synthetic chats rendered by
\`gen_toolchat --render\` (so that the chat model's format tokenizes compactly).

## Data
$SOURCE
sha256 (first 16 hex digits) $SHA. The last 5% of the tokens are the validation set.

## Training
\`llamac train $SHAPE $PRE --f16\` (AdamW beta 0.9/0.95, gradient clip 1, warmup then cosine
decay), float32 on the CPU with OpenBLAS.
- corpus: $BASE_DATA
- $BASE_STEPS steps of $PRE_BATCH sequences of $CTX tokens ($((BASE_STEPS * PRE_BATCH * CTX)) tokens)
- final training loss: $BASE_LOSS (cross-entropy per token, nats)
- final validation loss: $BASE_VAL
- speed: $BASE_TPS tokens/s; time: $(mins $(( $(secs tokenizer.json) + $(secs default-base.gguf) ))) min
  (tokenizer + pretraining) on this machine

## Reproduce
\`make default-models\` (or \`scripts/default_models.sh [CORPUS]\`) retrains the tokenizer and
both models from scratch with fixed seeds (under an hour on 2 cores) and rewrites these cards.

## Sample
\`llamac run -m models/default-base.gguf -p "ROMEO:" -n 80 --temp 0\`:

\`\`\`
ROMEO:$SAMPLE_BASE
\`\`\`
EOF

cat > "$W/MODEL_CARD-chat.md" <<EOF
# llamac default chat model (\`models/default-chat.gguf\`)

The default base model (MODEL_CARD-base.md) fully fine-tuned by \`llamac finetune\` on synthetic
Llama 3.1 chats with tool calls. It speaks the exact Llama 3.1 chat and tool-call format
(tool definitions in the first user message, a JSON call \`{"name": ..., "parameters": {...}}\`
ended by <|eot_id|>, tool results in the ipython role, then a final answer) for three small
tools: calculator, convert_units and get_weather, and answers a few kinds of plain requests.
\`make run\` chats with it. It is a demonstration and test model with a tiny vocabulary of
knowledge: its answers outside the synthetic tasks are Shakespeare-flavoured noise.

## Architecture
As the base model (same shape and tokenizer), context length 1024, $SIZE_C bytes (F16).

## Data
$CHAT_N conversations from \`build/gen_toolchat --seed $CHAT_SEED --n $CHAT_N\` (the generator
is tools/gen_toolchat.c, committed; the data is not): OpenAI-format messages with "tools",
tool calls with exact arguments, the tools' real results and a final answer, mixed with
plain chat. Loss on assistant tokens only. $CHAT_DATA

## Training
\`llamac finetune -m default-base.gguf $FT --f16\` (full fine-tuning).
- $CHAT_STEPS steps of $FT_BATCH conversations
- final training loss (assistant tokens): $CHAT_LOSS
- final validation loss (assistant tokens of the last 5% of the conversations): $CHAT_VAL
- speed: $CHAT_TPS tokens/s; time: $(mins "$(secs default-chat.gguf)") min on this machine

## Evaluation
\`llamac eval-tools -m models/default-chat.gguf -f heldout.jsonl\` on $EVAL_N held-out prompts
(\`gen_toolchat --seed $EVAL_SEED --n $EVAL_N --eval-prompts\`: phrasings, cities and values the
training split never uses), greedy decoding:

| figure | value |
|---|---|
| well-formed tool call (prompts that need one) | $(num wellformed_pct)% |
| **well-formed call of the right tool** | **$(num right_tool_pct)%** |
| exactly the expected arguments | $(num exact_args_pct)% |
| no call when none is needed | $(num nocall_pct)% |
| generation speed | $(num tokens_per_s) tokens/s |

\`make bench\` reruns this figure.

## Reproduce
\`make default-models\` (see MODEL_CARD-base.md); the whole run took $(mins "$TOTAL") min here.

## Sample
"What is the weather like in Lisbon right now?" with the get_weather tool (request
\`build/default-models/sample-request.json\`), rendered by \`llamac prompt -f REQUEST\` and
answered by \`llamac run -m models/default-chat.gguf -f PROMPT --special --no-bos --temp 0\`:

\`\`\`
$SAMPLE_CHAT
\`\`\`

and as a plain chat (\`echo "Hello! Who are you?" | llamac chat -m models/default-chat.gguf --temp 0\`):

\`\`\`
$SAMPLE_PLAIN
\`\`\`
EOF

for f in default-base.gguf default-chat.gguf tokenizer.json MODEL_CARD-base.md MODEL_CARD-chat.md; do
    cp "$W/$f" "$OUT/$f.tmp" && mv "$OUT/$f.tmp" "$OUT/$f"
done
say "done in $(mins "$TOTAL") min: $OUT/default-base.gguf, $OUT/default-chat.gguf (right tool $(num right_tool_pct)%)"
