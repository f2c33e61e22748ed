#!/bin/sh
# run.sh - what `make run` does: chat with MODEL (argument), else with the bundled
# default model, else say how to get one.
if [ -n "$1" ]; then
    exec ./llamac chat -m "$1"
fi
if [ -f models/default-chat.gguf ]; then
    exec ./llamac chat -m models/default-chat.gguf
fi
echo "no model: run \`make run MODEL=/path/to/Llama-3.1-8B-Instruct-Q4_K_M.gguf\` (any GGUF file or Hugging Face folder), or rebuild the bundled default models with \`make default-models\`" >&2
exit 1
