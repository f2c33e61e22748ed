/* cmd_train.c - the training commands of llamac: train-tokenizer (byte-level BPE),
 * train (pretraining on text), finetune (full or LoRA, on chat JSONL), merge-lora, and
 * eval-tools (tool-call accuracy of a chat model on held-out prompts). The work is done
 * by the library (src/bpe_train.h, src/train.h, src/toolcall.h); this file parses flags
 * strictly, reports, and turns every failure into one "error: ..." line and exit 1. */
#include "cli.h"

#include "bpe_train.h"
#include "toolcall.h"
#include "train.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_DATA 64

/* ---- usage texts ------------------------------------------------------------------ */
const char USAGE_TRAIN_TOKENIZER[] =
    "usage: llamac train-tokenizer -f CORPUS [-f CORPUS...] --vocab N -o tokenizer.json [-q]\n"
    "Learns a Llama-3-style byte-level BPE tokenizer: the Llama 3 pre-tokenizer regex, the\n"
    "256 byte tokens (ids 0..255), N - 256 learned merges, then the 256 Llama 3.1 special\n"
    "tokens (<|begin_of_text|>, <|eot_id|>, ...) at ids N..N+255. The output is a Hugging\n"
    "Face tokenizer.json that every llamac command (and `llamac train --tokenizer`) reads.\n"
    "The corpus must be UTF-8 text; the same files and N always give the same file.\n"
    "\n"
    "  -f, --file CORPUS      a UTF-8 text file (repeatable, up to 64)\n"
    "  --vocab N              BPE tokens including the 256 byte tokens, 256..1048576 (required);\n"
    "                         the vocabulary has N + 256 ids with the special tokens\n"
    "  -o, --output FILE      tokenizer.json to write (written to FILE.tmp, then renamed)\n"
    "  -q, --quiet            no progress or summary on stderr\n"
    "  -h, --help             this text\n";

#define OPENBLAS_HELP                                                                          \
    "OpenBLAS: when OPENBLAS_CORETYPE is unset and OpenBLAS did not recognise this CPU (it then\n" \
    "falls back to slow SSE kernels, about 3x slower), the command sets OPENBLAS_CORETYPE to\n"   \
    "SkylakeX (CPU with AVX-512F) or Haswell (AVX2) and restarts itself once with the same\n"    \
    "arguments. Set OPENBLAS_CORETYPE yourself to choose the kernels and skip the restart.\n"     \
    "Ctrl-C stops after the current step, writes --checkpoint (when given) and exits 1.\n"

#define OPTIM_HELP(steps, lr, minlr, warmup, wd)                                               \
    "optimisation (AdamW, linear warmup then cosine decay to --min-lr):\n"                    \
    "  --steps N              optimizer steps (default " steps ")\n"                           \
    "  --batch N              sequences per micro-batch (default 8)\n"                         \
    "  --accum N              micro-batches per step, gradient accumulation (default 1)\n"    \
    "  --lr LR                peak learning rate (default " lr ")\n"                           \
    "  --min-lr LR            learning rate at the last step (default " minlr ")\n"            \
    "  --warmup N             warmup steps (default " warmup ")\n"                             \
    "  --wd W                 decoupled weight decay of the matrices (not the embedding;\n"     \
    "                         default " wd ")\n"                                                \
    "  --beta2 B              Adam beta2 (default 0.95; beta1 0.9)\n"                          \
    "  --clip C               clip the global gradient norm to C, 0: off (default 1)\n"        \
    "  --seed S               seed of initialisation, data order and dropout (default 1337);\n" \
    "                         the same seed, data and options reproduce a run exactly\n"        \
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"                       \
    "validation:\n"                                                                             \
    "  --val-frac F           held-out fraction of the data, 0: none (default 0.05)\n"         \
    "  --val-every N          validate every N steps, 0: only at the end (default 100)\n"      \
    "  --val-batches N        batches per validation (default 8)\n"                            \
    "checkpoints (GGUF files that llamac run loads, plus the optimizer state):\n"              \
    "  --checkpoint CK        write a resumable checkpoint at the end (and see below)\n"       \
    "  --checkpoint-every N   also every N steps (default 0: only at the end)\n"               \
    "  --resume CK            continue from a checkpoint with the same options and data:\n"    \
    "                         the loss curve continues exactly where it stopped\n"             \
    "  --stop-at N            stop after step N as if interrupted (the checkpoint is\n"        \
    "                         written, no final model); the schedule still follows --steps\n"  \
    "output:\n"                                                                                 \
    "  --f16                  store the weights as F16 (half the size; the checkpoint keeps\n" \
    "                         F32 master weights)\n"                                            \
    "  --chat-template FILE   Jinja chat template to store (default: the source's, if any)\n"  \
    "  --name NAME            general.name of the output\n"                                    \
    "  --log-every N          progress line every N steps when stderr is not a terminal\n"     \
    "                         (default 10); on a terminal one line is updated in place\n"      \
    "  -q, --quiet            no progress or summary on stderr\n"                              \
    "  -h, --help             this text\n"

const char USAGE_TRAIN[] =
    "usage: llamac train -f CORPUS [-f CORPUS...] -o OUT.gguf (--tokenizer TOK.json | -m MODEL)\n"
    "                    [options]\n"
    "Pretrains a Llama 3 architecture model (RMSNorm, RoPE with Llama 3.1 scaling, GQA,\n"
    "SwiGLU, tied or untied output) on UTF-8 text files: random windows of --ctx tokens from\n"
    "the training part of the corpus, cross-entropy on every next token. A new model is\n"
    "initialised from the shape below with --tokenizer; -m continues training an existing\n"
    "model (GGUF or Hugging Face folder), keeping its shape and tokenizer. Progress: step,\n"
    "loss, validation loss, learning rate, tokens/s and ETA. OUT is a GGUF model.\n"
    "\n"
    "  -f, --file CORPUS      UTF-8 text file (repeatable, up to 64); the last --val-frac of\n"
    "                         the tokens is the validation set\n"
    "  -o, --output OUT.gguf  the trained model (written to OUT.tmp, then renamed)\n"
    "  --tokenizer TOK        tokenizer of a new model: a tokenizer.json (train-tokenizer) or\n"
    "                         a .gguf whose tokenizer is used\n"
    "  -m, --model MODEL      continue pretraining this model instead of a new one\n"
    "  --ctx N                training window in tokens (default 256); the model's context\n"
    "                         length when the model is new or had a shorter one\n"
    "model shape (a new model only; -m and --resume keep theirs):\n"
    "  --dim N                embedding size (default 256)\n"
    "  --layers N             transformer blocks (default 6)\n"
    "  --heads N              attention heads; --dim must be a multiple (default 8)\n"
    "  --kv-heads N           key/value heads (GQA); must divide --heads (default 4, or\n"
    "                         --heads when 4 does not divide it)\n"
    "  --ffn N                SwiGLU hidden size (default 8/3 * dim rounded up to 32)\n"
    "  --no-tie               a separate output matrix (default: tied to the embedding)\n"
    "  --rope-theta T         RoPE base (default 500000)\n"
    "  --no-rope-scaling      plain RoPE (default: Llama 3.1 scaling, factor 8, original\n"
    "                         context 8192, as Llama 3.1 models)\n"
    OPTIM_HELP("1000", "1e-3", "1e-4", "50", "0.1")
    "\n" OPENBLAS_HELP;

const char USAGE_FINETUNE[] =
    "usage: llamac finetune -m BASE -f DATA.jsonl [-f DATA.jsonl...] -o OUT.gguf [options]\n"
    "Fine-tunes a model on chat conversations: one JSON object per line in the OpenAI format\n"
    "({\"messages\": [...], \"tools\": [...]}, roles system/user/assistant/tool, assistant\n"
    "\"tool_calls\"), rendered with the Llama 3.1 chat template; the loss is on assistant\n"
    "tokens only (replies, tool calls and their <|eot_id|>/<|eom_id|>). Lines that are not a\n"
    "valid conversation are skipped and counted. With --lora-rank 0 every weight is trained\n"
    "and OUT is a full model; with a rank, the base stays frozen (quantized bases stay\n"
    "quantized) and OUT is a LoRA adapter GGUF for `llamac run/chat --lora` or merge-lora.\n"
    "\n"
    "  -m, --model BASE       the model to fine-tune: GGUF or Hugging Face folder (required)\n"
    "  -f, --file DATA.jsonl  conversations (repeatable, up to 64); the last --val-frac of\n"
    "                         them are the validation set\n"
    "  -o, --output OUT.gguf  the fine-tuned model or the adapter (via OUT.tmp + rename)\n"
    "  --ctx N                training window in tokens: longer conversations are truncated\n"
    "                         (counted); the output records it as its context length when it\n"
    "                         is longer than the base's (default 1024)\n"
    "LoRA:\n"
    "  --lora-rank R          adapter rank, 0: full fine-tuning (default 0)\n"
    "  --lora-alpha A         scale alpha / R (default: R, a scale of 1)\n"
    "  --lora-dropout P       dropout on the adapter input, 0..0.9 (default 0)\n"
    "  --lora-targets LIST    matrices with adapters: a comma list of q,k,v,o,gate,up,down,\n"
    "                         or attn (q,k,v,o), mlp (gate,up,down), all (default q,k,v,o)\n"
    OPTIM_HELP("1000", "1e-4", "1e-5", "50", "0")
    "With LoRA, --resume takes the adapter checkpoint and -m the same base.\n"
    "\n" OPENBLAS_HELP;

const char USAGE_MERGE_LORA[] =
    "usage: llamac merge-lora -m BASE.gguf --lora ADAPTER.gguf -o OUT.gguf [options]\n"
    "Writes BASE with the LoRA adapter folded in: W' = W + scale * alpha/r * B.A for every\n"
    "matrix the adapter targets; every other tensor and all metadata are copied as they are.\n"
    "The adapter must have been trained on a model of the same shape (checked).\n"
    "\n"
    "  -m, --model BASE.gguf  the base model (GGUF)\n"
    "  --lora ADAPTER.gguf    the adapter (from llamac finetune --lora-rank R)\n"
    "  --lora-scale S         multiplies the adapter's effect (default 1)\n"
    "  --type T               type of the merged matrices: f32 (default), f16, or base (the\n"
    "                         base tensor's own type, requantized when it is quantized)\n"
    "  -o, --output OUT.gguf  merged model (written to OUT.tmp, then renamed)\n"
    "  -h, --help             this text\n";

const char USAGE_EVAL_TOOLS[] =
    "usage: llamac eval-tools -m MODEL -f PROMPTS.jsonl [-n N] [-v] [--json]\n"
    "Tool-call accuracy of a chat model: each line of PROMPTS is a conversation up to the\n"
    "assistant's turn with its tools and the expected call ({\"messages\": [...], \"tools\": [...],\n"
    "\"expected\": {\"name\": ..., \"arguments\": {...}} or null when no tool is needed), as\n"
    "written by `gen_toolchat --eval-prompts`. Each prompt is rendered with the Llama 3.1\n"
    "template (tools in the first user message), answered by greedy decoding (at most 64\n"
    "tokens) and the reply parsed as a Llama 3.1 tool call. Prints, over the prompts that\n"
    "expect a call: well-formed calls, calls of the right tool, calls with exactly the\n"
    "expected arguments; over the others: replies without a call; and generation speed.\n"
    "\n"
    "  -m, --model MODEL      .gguf file or Hugging Face folder (required)\n"
    "  -f, --file PROMPTS     prompts JSONL (required)\n"
    "  -n N                   evaluate the first N prompts, 0: all (default 0)\n"
    "  -v, --verbose          one line per miss on stderr (prompt line, expected call, reply)\n"
    "  --json                 also print the figures as one JSON object on the last line\n"
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"
    "  -h, --help             this text\n";

/* ---- OpenBLAS kernels ------------------------------------------------------------- */
/* OpenBLAS picks its kernels when it is loaded; a CPU it does not know gets the generic
 * SSE3 ("Prescott") kernels. Setting OPENBLAS_CORETYPE and restarting the program once
 * makes the loader pick the AVX2/AVX-512 ones. The variable guards against a loop. */
static int core_is_fallback(const char *core) {
    static const char *const old[] = { "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                       "Katmai", "Coppermine", "Northwood", "Banias", "Sandybridge" };
    if (!core) return 1;
    for (size_t i = 0; i < sizeof old / sizeof *old; i++)
        if (!strcasecmp(core, old[i])) return 1;
    return 0;
}

static void openblas_reexec(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!want || !core_is_fallback(openblas_get_corename())) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1)) return;
    /* the original command line: /proc/self/cmdline holds it, NUL separated */
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int full = feof(f);
    fclose(f);
    if (!full || n == 0) return;
    buf[n] = 0;
    char *args[4096];
    int k = 0;
    size_t p = 0;
    for (; p < n && k < 4095; p += strlen(buf + p) + 1) args[k++] = buf + p;
    if (p < n) return;
    args[k] = NULL;
    fflush(NULL);
    execv("/proc/self/exe", args);
    /* could not restart: go on with the slow kernels (the library warns) */
#endif
}

/* ---- train-tokenizer ---------------------------------------------------------------- */
typedef struct tok_progress { int tty, last_pct; double t0; } tok_progress;

static void tok_cb(void *ud, int done, int total) {
    tok_progress *p = ud;
    int pct = total > 0 ? (int)(100.0 * done / total) : 100;
    if (pct == p->last_pct) return;
    p->last_pct = pct;
    if (p->tty) fprintf(stderr, "\r\033[Ktrain-tokenizer: %d/%d tokens (%d%%)", done, total, pct);
}

int cmd_train_tokenizer(int argc, char **argv) {
    const char *files[MAX_DATA], *out = NULL, *v;
    int n_files = 0, vocab = 0, quiet = 0, have_vocab = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(USAGE_TRAIN_TOKENIZER, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-f", "--file", &v)) {
            if (v == MISSING) continue;
            if (n_files == MAX_DATA) usage_fail("train-tokenizer", "at most %d -f files", MAX_DATA);
            else files[n_files++] = v;
        } else if (take(argc, argv, &i, NULL, "--vocab", &v)) {
            if (!num_int("--vocab", v, 256, LC_BPE_MAX_VOCAB, &vocab)) have_vocab = 1;
        } else if (take(argc, argv, &i, "-o", "--output", &v)) out = v;
        else if (is_flag(a, "-q", "--quiet")) quiet = 1;
        else unknown_arg("train-tokenizer", a);
    }
    if (g_bad) return 1;
    if (!n_files) return usage_fail("train-tokenizer", "no corpus: give -f CORPUS");
    if (!have_vocab) return usage_fail("train-tokenizer", "--vocab N is required");
    if (!out || !*out) return usage_fail("train-tokenizer", "-o tokenizer.json is required");
    tok_progress pr = { .tty = !quiet && isatty(2), .last_pct = -1, .t0 = now_s() };
    lc_bpe_stats st;
    memset(&st, 0, sizeof st);
    int rc = lc_bpe_train(files, n_files, vocab, out, quiet ? NULL : tok_cb, &pr, &st);
    if (pr.tty && pr.last_pct >= 0) fputs("\r\033[K", stderr);
    if (rc) return fail_lib(rc, "train-tokenizer");
    if (!quiet)
        fprintf(stderr, "train-tokenizer: %s: %d tokens (256 bytes + %d merges) + %d special tokens from %lld bytes "
                "(%lld pieces, %lld distinct) in %.1f s\n", out, vocab, vocab - 256, LC_BPE_N_SPECIAL,
                (long long)st.n_bytes, (long long)st.n_pieces, (long long)st.n_words, now_s() - pr.t0);
    return 0;
}

/* ---- train / finetune: the shared flags ----------------------------------------------- */
/* 1 if argv[*i] was an optimisation, validation, checkpoint or output flag */
static int opt_train(int argc, char **argv, int *i, const char *cmd, lc_train_opts *o, const char **data, int *n_data) {
    const char *a = argv[*i], *v;
    if (take(argc, argv, i, "-f", "--file", &v)) {
        if (v == MISSING) return 1;
        if (*n_data == MAX_DATA) usage_fail(cmd, "at most %d -f files", MAX_DATA);
        else data[(*n_data)++] = v;
    } else if (take(argc, argv, i, "-o", "--output", &v)) o->out_path = v;
    else if (take(argc, argv, i, NULL, "--ctx", &v)) num_int("--ctx", v, 2, 1 << 20, &o->ctx);
    else if (take(argc, argv, i, NULL, "--steps", &v)) num_int("--steps", v, 1, INT32_MAX / 2, &o->steps);
    else if (take(argc, argv, i, NULL, "--batch", &v)) num_int("--batch", v, 1, 4096, &o->batch);
    else if (take(argc, argv, i, NULL, "--accum", &v)) num_int("--accum", v, 1, 1 << 16, &o->accum);
    else if (take(argc, argv, i, NULL, "--lr", &v)) num_float("--lr", v, 1e-12, 10, &o->lr);
    else if (take(argc, argv, i, NULL, "--min-lr", &v)) num_float("--min-lr", v, 0, 10, &o->min_lr);
    else if (take(argc, argv, i, NULL, "--warmup", &v)) num_int("--warmup", v, 0, INT32_MAX / 2, &o->warmup);
    else if (take(argc, argv, i, NULL, "--wd", &v)) num_float("--wd", v, 0, 10, &o->weight_decay);
    else if (take(argc, argv, i, NULL, "--beta2", &v)) num_float("--beta2", v, 0, 0.999999, &o->beta2);
    else if (take(argc, argv, i, NULL, "--clip", &v)) num_float("--clip", v, 0, 1e9, &o->clip);
    else if (take(argc, argv, i, NULL, "--seed", &v)) num_u64("--seed", v, &o->seed);
    else if (take(argc, argv, i, "-t", "--threads", &v)) num_int("--threads", v, 0, 512, &o->threads);
    else if (take(argc, argv, i, NULL, "--val-frac", &v)) num_float("--val-frac", v, 0, 0.5, &o->val_frac);
    else if (take(argc, argv, i, NULL, "--val-every", &v)) num_int("--val-every", v, 0, INT32_MAX, &o->val_every);
    else if (take(argc, argv, i, NULL, "--val-batches", &v)) num_int("--val-batches", v, 1, 1 << 20, &o->val_batches);
    else if (take(argc, argv, i, NULL, "--checkpoint", &v)) o->ckpt_path = v;
    else if (take(argc, argv, i, NULL, "--checkpoint-every", &v))
        num_int("--checkpoint-every", v, 0, INT32_MAX, &o->ckpt_every);
    else if (take(argc, argv, i, NULL, "--resume", &v)) o->resume_path = v;
    else if (take(argc, argv, i, NULL, "--stop-at", &v)) num_int("--stop-at", v, 1, INT32_MAX, &o->stop_at);
    else if (is_flag(a, NULL, "--f16")) o->out_f16 = 1;
    else if (take(argc, argv, i, NULL, "--chat-template", &v)) o->chat_template_path = v;
    else if (take(argc, argv, i, NULL, "--name", &v)) o->name = v;
    else if (take(argc, argv, i, NULL, "--log-every", &v)) num_int("--log-every", v, 0, INT32_MAX, &o->log_every);
    else if (is_flag(a, "-q", "--quiet")) o->quiet = 1;
    else return 0;
    return 1;
}

/* checks common to train and finetune; 1 after printing a usage error */
static int check_train(const char *cmd, const lc_train_opts *o, int n_data) {
    if (!n_data) return usage_fail(cmd, "no data: give -f FILE");
    if (!o->out_path && !o->ckpt_path) return usage_fail(cmd, "-o OUT.gguf is required");
    if (o->out_path && !*o->out_path) return usage_fail(cmd, "-o needs a file name");
    if (o->min_lr > o->lr) return usage_fail(cmd, "--min-lr %g is above --lr %g", o->min_lr, o->lr);
    if (o->stop_at && o->stop_at >= o->steps) return usage_fail(cmd, "--stop-at must be below --steps");
    if (o->stop_at && !o->ckpt_path) return usage_fail(cmd, "--stop-at needs --checkpoint");
    if (o->ckpt_every && !o->ckpt_path) return usage_fail(cmd, "--checkpoint-every needs --checkpoint");
    return 0;
}

/* runs the training and prints the summary; returns the exit status */
static int run_train(const char *cmd, lc_train_opts *o) {
    openblas_reexec();
    catch_sigint();
    o->cancel = &g_stop;
    double t0 = now_s();
    int rc = lc_train_run(o);
    if (rc == LC_ERR_CANCELLED) return fail("%s", lc_last_error());
    if (rc) return fail_lib(rc, cmd);
    if (!o->quiet) {
        char vb[48] = "";
        if (!isnan(o->final_val_loss) && o->val_frac > 0)
            snprintf(vb, sizeof vb, ", validation loss %.4f", o->final_val_loss);
        fprintf(stderr, "%s: done in %.1f s: %lld parameters (%lld trained), final loss %.4f%s, %.0f tokens/s\n", cmd,
                now_s() - t0, (long long)o->n_params, (long long)o->n_trainable, o->final_loss, vb, o->tokens_per_s);
        if (o->out_path && !(o->stop_at && o->stop_at < o->steps)) fprintf(stderr, "%s: wrote %s\n", cmd, o->out_path);
        if (o->ckpt_path) fprintf(stderr, "%s: checkpoint %s\n", cmd, o->ckpt_path);
    }
    return 0;
}

/* ---- train ------------------------------------------------------------------------------- */
int cmd_train(int argc, char **argv) {
    lc_train_opts o;
    lc_train_opts_default(&o);
    o.mode = LC_TRAIN_PRETRAIN;
    const char *data[MAX_DATA], *v;
    int n_data = 0, kv_set = 0, shape = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int was = i;
        if (is_help(a)) {
            fputs(USAGE_TRAIN, stdout);
            return 0;
        } else if (opt_train(argc, argv, &i, "train", &o, data, &n_data)) {
            continue;
        } else if (take(argc, argv, &i, NULL, "--tokenizer", &v)) {
            o.tokenizer_path = v;
            continue;
        } else if (take(argc, argv, &i, "-m", "--model", &v)) {
            o.model_path = v;
            continue;
        } else if (take(argc, argv, &i, NULL, "--dim", &v)) num_int("--dim", v, 2, 1 << 16, &o.dim);
        else if (take(argc, argv, &i, NULL, "--layers", &v)) num_int("--layers", v, 1, 1024, &o.n_layers);
        else if (take(argc, argv, &i, NULL, "--heads", &v)) num_int("--heads", v, 1, 1024, &o.n_heads);
        else if (take(argc, argv, &i, NULL, "--kv-heads", &v)) {
            if (!num_int("--kv-heads", v, 1, 1024, &o.n_kv_heads)) kv_set = 1;
        } else if (take(argc, argv, &i, NULL, "--ffn", &v)) num_int("--ffn", v, 1, 1 << 20, &o.ffn_dim);
        else if (is_flag(a, NULL, "--no-tie")) o.tied = 0;
        else if (take(argc, argv, &i, NULL, "--rope-theta", &v)) num_float("--rope-theta", v, 1, 1e12, &o.rope_theta);
        else if (is_flag(a, NULL, "--no-rope-scaling")) o.rope_scaled = 0;
        else {
            unknown_arg("train", a);
            continue;
        }
        if (!shape) shape = was;   /* the first model-shape flag */
    }
    if (g_bad) return 1;
    if (check_train("train", &o, n_data)) return 1;
    if (o.tokenizer_path && o.model_path) return usage_fail("train", "give --tokenizer (a new model) or -m, not both");
    if (!o.tokenizer_path && !o.model_path && !o.resume_path)
        return usage_fail("train", "give --tokenizer TOK.json for a new model or -m MODEL to continue one");
    if ((o.model_path || o.resume_path) && shape)
        return usage_fail("train", "%s: the shape comes from %s", argv[shape], o.model_path ? "-m" : "--resume");
    if (!kv_set && (o.n_kv_heads > o.n_heads || o.n_heads % o.n_kv_heads)) o.n_kv_heads = o.n_heads;
    if (!o.model_path && !o.resume_path) {
        if (o.dim % o.n_heads) return usage_fail("train", "--dim %d is not a multiple of --heads %d", o.dim, o.n_heads);
        if (o.n_heads % o.n_kv_heads)
            return usage_fail("train", "--kv-heads %d does not divide --heads %d", o.n_kv_heads, o.n_heads);
        if ((o.dim / o.n_heads) % 2) return usage_fail("train", "the head size %d (dim / heads) must be even", o.dim / o.n_heads);
    }
    o.data = data;
    o.n_data = n_data;
    return run_train("train", &o);
}

/* ---- finetune -------------------------------------------------------------------------- */
int cmd_finetune(int argc, char **argv) {
    lc_train_opts o;
    lc_train_opts_default(&o);
    o.mode = LC_TRAIN_FINETUNE;
    o.ctx = 1024;
    o.lr = 1e-4f;
    o.min_lr = 1e-5f;
    o.weight_decay = 0;
    const char *data[MAX_DATA], *v, *targets = NULL;
    int n_data = 0, alpha_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(USAGE_FINETUNE, stdout);
            return 0;
        } else if (opt_train(argc, argv, &i, "finetune", &o, data, &n_data)) {
        } else if (take(argc, argv, &i, "-m", "--model", &v)) o.model_path = v;
        else if (take(argc, argv, &i, NULL, "--lora-rank", &v)) num_int("--lora-rank", v, 0, 4096, &o.lora_rank);
        else if (take(argc, argv, &i, NULL, "--lora-alpha", &v)) {
            if (!num_float("--lora-alpha", v, 1e-6, 1e6, &o.lora_alpha)) alpha_set = 1;
        } else if (take(argc, argv, &i, NULL, "--lora-dropout", &v)) num_float("--lora-dropout", v, 0, 0.9, &o.lora_dropout);
        else if (take(argc, argv, &i, NULL, "--lora-targets", &v)) targets = v;
        else unknown_arg("finetune", a);
    }
    if (g_bad) return 1;
    if (!o.model_path) return usage_fail("finetune", "-m BASE is required");
    if (check_train("finetune", &o, n_data)) return 1;
    if (targets && targets != MISSING) {
        o.lora_targets = lc_lora_parse_targets(targets);
        if (o.lora_targets <= 0)
            return usage_fail("finetune", "--lora-targets: '%s' is not a list of q,k,v,o,gate,up,down (or attn, mlp, all)",
                              targets);
    }
    if (!o.lora_rank && (alpha_set || o.lora_dropout > 0 || targets))
        return usage_fail("finetune", "--lora-alpha, --lora-dropout and --lora-targets need --lora-rank R");
    if (o.lora_rank && !alpha_set) o.lora_alpha = (float)o.lora_rank;
    o.data = data;
    o.n_data = n_data;
    return run_train("finetune", &o);
}

/* ---- merge-lora ------------------------------------------------------------------------ */
int cmd_merge_lora(int argc, char **argv) {
    const char *base = NULL, *lora = NULL, *out = NULL, *v;
    float scale = 1.0f;
    int type = LC_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(USAGE_MERGE_LORA, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-m", "--model", &v)) base = v;
        else if (take(argc, argv, &i, NULL, "--lora", &v)) lora = v;
        else if (take(argc, argv, &i, "-o", "--output", &v)) out = v;
        else if (take(argc, argv, &i, NULL, "--lora-scale", &v)) num_float("--lora-scale", v, -1e6, 1e6, &scale);
        else if (take(argc, argv, &i, NULL, "--type", &v)) {
            if (v == MISSING) continue;
            if (!strcmp(v, "f32")) type = LC_TYPE_F32;
            else if (!strcmp(v, "f16")) type = LC_TYPE_F16;
            else if (!strcmp(v, "base")) type = -1;
            else usage_fail("merge-lora", "--type is f32, f16 or base, got '%s'", v);
        } else unknown_arg("merge-lora", a);
    }
    if (g_bad) return 1;
    if (!base || !*base) return usage_fail("merge-lora", "-m BASE.gguf is required");
    if (!lora || !*lora) return usage_fail("merge-lora", "--lora ADAPTER.gguf is required");
    if (!out || !*out) return usage_fail("merge-lora", "-o OUT.gguf is required");
    int rc = lc_lora_merge(base, lora, scale, type, out);
    if (rc) return fail_lib(rc, "merge-lora");
    fprintf(stderr, "merge-lora: wrote %s\n", out);
    return 0;
}

/* ---- eval-tools --------------------------------------------------------------------------- */
static double pct(int a, int b) { return b > 0 ? 100.0 * a / b : 0.0; }

int cmd_eval_tools(int argc, char **argv) {
    opts o;
    opts_init(&o, "eval-tools", 0);
    const char *file = NULL, *v;
    int n = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(USAGE_EVAL_TOOLS, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-m", "--model", &v)) o.model = v;
        else if (take(argc, argv, &i, "-t", "--threads", &v)) num_int("--threads", v, 0, 512, &o.n_threads);
        else if (take(argc, argv, &i, "-f", "--file", &v)) file = v;
        else if (take(argc, argv, &i, "-n", NULL, &v)) num_int("-n", v, 0, INT32_MAX, &n);
        else if (is_flag(a, "-v", "--verbose")) o.verbose = 1;
        else if (is_flag(a, NULL, "--json")) json = 1;
        else unknown_arg("eval-tools", a);
    }
    if (g_bad) return 1;
    if (!o.model || !*o.model) return usage_fail("eval-tools", "-m MODEL is required");
    if (!file || !*file) return usage_fail("eval-tools", "-f PROMPTS.jsonl is required");
    if (access(file, R_OK)) return fail("%s: %s", file, strerror(errno));
    int verbose = o.verbose;
    o.verbose = 0;   /* no load chatter: -v is about the misses */
    lc_model *m = NULL;
    if (load_model(&o, &m)) return 1;
    lc_toolcall_stats st;
    int rc = lc_toolcall_eval(m, file, n, verbose ? stderr : NULL, &st);
    lc_model_free(m);
    if (rc) return fail_lib(rc, "eval-tools");
    if (st.n_prompts == 0) return fail("%s: no prompts", file);
    if (st.n_errors == st.n_prompts)
        return fail("eval-tools: none of the %d prompts could be run (-v says why)", st.n_prompts);
    double tps = st.seconds > 0 ? (double)st.n_gen_tokens / st.seconds : 0;
    printf("prompts:          %d (%d expect a tool call, %d do not; %d could not be run)\n", st.n_prompts,
           st.n_call_expected, st.n_nocall_expected, st.n_errors);
    printf("well-formed call: %5.1f%%  (%d/%d)\n", pct(st.n_wellformed, st.n_call_expected), st.n_wellformed,
           st.n_call_expected);
    printf("right tool:       %5.1f%%  (%d/%d)\n", pct(st.n_right_tool, st.n_call_expected), st.n_right_tool,
           st.n_call_expected);
    printf("exact arguments:  %5.1f%%  (%d/%d)\n", pct(st.n_exact_args, st.n_call_expected), st.n_exact_args,
           st.n_call_expected);
    printf("no call (none needed): %5.1f%%  (%d/%d)\n", pct(st.n_nocall_ok, st.n_nocall_expected), st.n_nocall_ok,
           st.n_nocall_expected);
    printf("generation:       %lld tokens in %.2f s, %.1f tokens/s\n", (long long)st.n_gen_tokens, st.seconds, tps);
    if (json)
        printf("{\"prompts\": %d, \"call_expected\": %d, \"nocall_expected\": %d, \"errors\": %d, "
               "\"wellformed_pct\": %.2f, \"right_tool_pct\": %.2f, \"exact_args_pct\": %.2f, \"nocall_pct\": %.2f, "
               "\"tokens\": %lld, \"seconds\": %.3f, \"tokens_per_s\": %.1f}\n",
               st.n_prompts, st.n_call_expected, st.n_nocall_expected, st.n_errors,
               pct(st.n_wellformed, st.n_call_expected), pct(st.n_right_tool, st.n_call_expected),
               pct(st.n_exact_args, st.n_call_expected), pct(st.n_nocall_ok, st.n_nocall_expected),
               (long long)st.n_gen_tokens, st.seconds, tps);
    if (fflush(stdout) || ferror(stdout)) return fail("stdout: write error");
    return 0;
}
