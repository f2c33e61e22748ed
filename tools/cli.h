/* cli.h - shared parts of the llamac program (tools/cli.c) and the commands each
 * tools/cmd_*.c file adds. Every failure is one "error: ..." line on stderr, exit 1. */
#ifndef LC_CLI_H
#define LC_CLI_H

#include "llamac.h"

#include <stdint.h>
#include <stdio.h>

#define MAX_STOPS 16

#define SAMPLING_HELP                                                                     \
    "  --temp T               temperature, <= 0: greedy (default 0.6)\n"                    \
    "  --top-k K              keep the K most likely tokens, 0: off (default off)\n"       \
    "  --top-p P              nucleus sampling, 1: off (default 0.9)\n"                    \
    "  --min-p P              drop tokens below P * the top probability, 0: off\n"         \
    "  --repeat-penalty R     penalize repeated tokens, 1: off (default 1)\n"              \
    "  --repeat-last-n N      window of the penalties in tokens, -1: everything (default 64)\n" \
    "  --frequency-penalty F  subtract F * count from repeated tokens' logits\n"           \
    "  --presence-penalty P   subtract P from logits of tokens already seen\n"             \
    "  --seed S               random seed (default: from the clock)\n"                     \
    "  --stop STR             stop when the output contains STR (repeatable, up to 16)\n"

#define COMMON_HELP                                                                       \
    "  -m, --model MODEL      .gguf file or Hugging Face folder (required)\n"               \
    "  --ctx N                context size in tokens (default: the model's, at most 8192)\n" \
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"                  \
    "  --verbose              load progress, statistics and the stop reason on stderr\n"   \
    "  --lora ADAPTER         apply a LoRA adapter (GGUF from llamac finetune) at load time\n" \
    "  --lora-scale S         scale of the adapter (default 1)\n"                          \
    "  --exact                reference math: float32 activations against dequantized weights\n" \
    "                         (default: activations rounded to 8 bits for quantized weights,\n" \
    "                         like llama.cpp; faster). LLAMAC_ISA=scalar|avx2|avx512 pins kernels\n" \
    "  -h, --help             this text\n"


extern int g_bad;            /* a usage error was reported while parsing */
extern volatile int g_stop;  /* set by SIGINT (catch_sigint): stop the current work */
extern double g_load_s;      /* seconds the last load_model took */
extern const char MISSING[]; /* value of a flag given without one */

int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* "error: ..."; returns 1 */
int fail_lib(int rc, const char *what);                                 /* "error: what: lc_last_error()" */
int usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int unknown_arg(const char *cmd, const char *a);
double now_s(void);
size_t peak_rss(void);
const char *human_bytes(double b, char *buf, size_t cap);
char *read_all(const char *path, size_t *len);   /* "-" is stdin; NULL after printing an error */

typedef struct sbuf { char *p; size_t n, cap; } sbuf;
int sbuf_add(sbuf *b, const char *s, size_t n);

/* flag parsing: 1 when argv[*i] is the flag (its value in *val; a missing value sets g_bad) */
int take(int argc, char **argv, int *i, const char *s, const char *l, const char **val);
int is_flag(const char *a, const char *s, const char *l);
int is_help(const char *a);
/* strict numbers: the whole string, in range; errors print, set g_bad and return 1 */
int num_int(const char *flag, const char *s, long lo, long hi, int *out);
int num_float(const char *flag, const char *s, double lo, double hi, float *out);
int num_u64(const char *flag, const char *s, uint64_t *out);
/* "1 2 3", "1,2,3" or "[1, 2, 3]"; each in [0, n_vocab) when n_vocab > 0; *ids malloc'd */
int parse_ids(const char *what, const char *s, int n_vocab, int32_t **ids, int *n);

/* options shared by the commands that load a model */
typedef struct opts {
    const char *cmd;
    const char *model;
    int n_ctx, n_threads, verbose, exact;
    const char *lora;      /* --lora ADAPTER */
    float lora_scale;      /* --lora-scale S */
    lc_sampler_params sp;
    int seed_set;
    int n_predict;
    const char *stops[MAX_STOPS];
    int n_stops;
} opts;
void opts_init(opts *o, const char *cmd, int n_predict);
int opt_common(int argc, char **argv, int *i, opts *o);     /* -m --ctx -t --verbose --exact */
int opt_sampling(int argc, char **argv, int *i, opts *o);   /* sampling flags, -n, --stop */
void seed_default(opts *o);
int load_model(const opts *o, lc_model **m);                 /* prints the error */
void catch_sigint(void);

/* ---- commands (each in its own tools/cmd_*.c or in llamac.c) ---------------- */
typedef struct lc_cli_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *summary;   /* one line for llamac --help */
} lc_cli_cmd;

/* tools/cmd_bench.c */
extern const char USAGE_BENCH[], USAGE_PERPLEXITY[];
int cmd_bench(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
/* tools/cmd_model.c */
extern const char USAGE_MAKE_MODEL[], USAGE_QUANTIZE[];
int cmd_make_model(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
/* tools/cmd_train.c */
extern const char USAGE_TRAIN_TOKENIZER[], USAGE_TRAIN[], USAGE_FINETUNE[], USAGE_MERGE_LORA[], USAGE_EVAL_TOOLS[];
int cmd_train_tokenizer(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_merge_lora(int argc, char **argv);
int cmd_eval_tools(int argc, char **argv);

#endif
