/* llamac.h - public API of libllamac: load Llama 3.x models (GGUF or Hugging Face folders),
 * tokenize, evaluate batches of tokens over a multi-sequence KV cache, sample, render chats.
 * Every function returns LC_OK (0) or a negative LC_ERR_* code; lc_last_error() says why. */
#ifndef LLAMAC_H
#define LLAMAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LC_VERSION "0.1.0"

/* ---- errors ---------------------------------------------------- */
enum {
    LC_OK = 0,
    LC_ERR_IO = -1,          /* cannot open / read / write a file */
    LC_ERR_FORMAT = -2,      /* malformed or hostile input (file, JSON, ...) */
    LC_ERR_NOMEM = -3,       /* allocation failed or size overflow */
    LC_ERR_ARG = -4,         /* bad argument from the caller */
    LC_ERR_UNSUPPORTED = -5, /* valid input we do not handle (tensor type, arch) */
    LC_ERR_CONTEXT = -6,     /* KV cache / context is full */
    LC_ERR_CANCELLED = -7,   /* stopped by the caller's abort flag */
};
const char *lc_last_error(void);   /* thread-local detail of the last failure */
const char *lc_strerror(int rc);   /* generic text of a code */

/* ---- tensor types (ggml ids) ------------------------------------ */
enum {
    LC_TYPE_F32 = 0, LC_TYPE_F16 = 1, LC_TYPE_Q4_0 = 2, LC_TYPE_Q4_1 = 3,
    LC_TYPE_Q8_0 = 8, LC_TYPE_Q4_K = 12, LC_TYPE_Q6_K = 14, LC_TYPE_BF16 = 30,
};
const char *lc_type_name(int type);          /* "F32", "Q4_K", ...; "?" if unknown */

/* ---- tokenizer --------------------------------------------------- */
typedef struct lc_tok lc_tok;

enum {
    LC_TOK_BOS = 1,        /* prepend the BOS id */
    LC_TOK_SPECIAL = 2,    /* parse special-token text (<|eot_id|> ...) into ids */
};

/* path: a .gguf file, a tokenizer.json, a tokenizer.model (tiktoken ranks), or a
 * Hugging Face folder holding tokenizer.json. */
int lc_tok_load(const char *path, lc_tok **out);
void lc_tok_free(lc_tok *t);
int lc_tok_n_vocab(const lc_tok *t);
int32_t lc_tok_bos(const lc_tok *t);
int32_t lc_tok_eos(const lc_tok *t);
/* 1 if id ends generation (end_of_text, eot, eom, or the model's eos ids) */
int lc_tok_is_eog(const lc_tok *t, int32_t id);
/* id of a token whose text is exactly `text` (special or not), -1 if none */
int32_t lc_tok_lookup(const lc_tok *t, const char *text);
/* encode: writes up to cap ids, returns the number of ids the text needs
 * (> cap means truncated, call again), or a negative error.
 * Invalid UTF-8 is not an error: each invalid byte is encoded as its byte token. */
int lc_tok_encode(const lc_tok *t, const char *text, size_t len, int flags, int32_t *ids, int cap);
/* raw bytes of one token (special tokens give their text); returns the length,
 * snprintf-style (>= cap: truncated), or a negative error for a bad id. No NUL added. */
int lc_tok_piece(const lc_tok *t, int32_t id, char *buf, size_t cap);
/* 1 if id is a special/control token */
int lc_tok_is_special(const lc_tok *t, int32_t id);
const char *lc_tok_kind(const lc_tok *t);    /* "llama3-bpe" */

/* Streaming detokenizer: never splits a UTF-8 character. Bytes of an incomplete
 * character are held until the next token completes them; lc_detok_flush emits
 * what is left (invalid sequences as U+FFFD). */
typedef struct lc_detok { char held[8]; int n_held; } lc_detok;
/* appends the printable bytes for id to buf (cap bytes), returns their count or < 0 */
int lc_detok_push(lc_detok *d, const lc_tok *t, int32_t id, char *buf, size_t cap);
int lc_detok_flush(lc_detok *d, char *buf, size_t cap);

/* ---- model ------------------------------------------------------- */
typedef struct lc_model lc_model;

typedef struct lc_model_params {
    int n_threads;       /* 0: all cores */
    int verbose;         /* print load progress to stderr */
    const char *lora;    /* LoRA adapter GGUF applied at load time (llamac finetune --lora-rank), NULL: none */
    float lora_scale;    /* multiplies the adapter's alpha/rank (default 1) */
} lc_model_params;
void lc_model_params_default(lc_model_params *p);

typedef struct lc_model_info {
    char arch[32];              /* "llama" */
    char name[128];             /* general.name or folder name */
    char format[16];            /* "gguf" or "safetensors" */
    int n_vocab, dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim;
    int n_ctx_train;            /* context length of the model */
    float norm_eps;
    float rope_theta;
    int rope_scaled;            /* llama3 scaling present */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_ctx;
    int rope_neox;              /* 1: HF rotate-half layout, 0: Meta/GGUF adjacent pairs */
    int tied_output;            /* output projection shares token_embd */
    int64_t n_params;
    size_t weight_bytes;        /* bytes of all tensors */
    int file_type;              /* dominant tensor type (LC_TYPE_*) */
    int gguf_ftype;             /* general.file_type of a GGUF (llama.cpp's numbers: 15 = Q4_K_M ...), -1 if none */
    int has_chat_template;
    int32_t bos_id, eos_id;
} lc_model_info;

typedef struct lc_tensor_info {
    const char *name;
    int type;
    int n_dims;
    int64_t ne[4];              /* ggml order: ne[0] = row length */
    size_t nbytes;
} lc_tensor_info;

int lc_model_load(const char *path, const lc_model_params *p, lc_model **out);
void lc_model_free(lc_model *m);
const lc_model_info *lc_model_get_info(const lc_model *m);
/* the fraction (0..1) of the model's mapped files that the kernel maps with 2 MiB pages
 * (pages not yet touched count as small), -1 where that cannot be read. Weight maps ask for
 * transparent huge pages; page-cache pages read earlier in small folios stay small until the
 * file leaves the page cache. */
double lc_model_huge_page_fraction(const lc_model *m);
const lc_tok *lc_model_tok(const lc_model *m);
int lc_model_n_tensors(const lc_model *m);
int lc_model_tensor(const lc_model *m, int i, lc_tensor_info *out);
const char *lc_model_chat_template(const lc_model *m);   /* NULL if none */
/* bytes needed for a KV cache of n_ctx cells (float32 K and V) */
size_t lc_model_kv_bytes(const lc_model *m, int n_ctx);

/* ---- context: KV cache + batched evaluation ---------------------- */
typedef struct lc_ctx lc_ctx;

typedef struct lc_ctx_params {
    int n_ctx;        /* KV cells shared by all sequences; 0: min(model max, 8192) */
    int n_seq_max;    /* independent sequences (users); default 1 */
    int n_batch;      /* most tokens evaluated per internal step; default 512 */
    int n_threads;    /* 0: all cores */
    int exact;        /* 1: float32 activations against dequantized weights (the reference math);
                         0: activations rounded to 8-bit blocks for quantized weights, like ggml (faster) */
    const char *isa;  /* kernel set "scalar", "avx2", "avx512"; NULL: $LLAMAC_ISA or the best this CPU runs */
} lc_ctx_params;
void lc_ctx_params_default(lc_ctx_params *p);

/* A batch: token i is at position pos[i] of sequence seq_id[i]. want_logits[i] != 0
 * keeps that token's logits (NULL: only the last token's). Positions of a sequence
 * must continue the ones already in the cache. */
typedef struct lc_batch {
    int n_tokens;
    const int32_t *token;
    const int32_t *pos;
    const int32_t *seq_id;
    const int8_t *want_logits;
} lc_batch;

int lc_ctx_new(lc_model *m, const lc_ctx_params *p, lc_ctx **out);
void lc_ctx_free(lc_ctx *c);
int lc_ctx_n_ctx(const lc_ctx *c);
size_t lc_ctx_kv_bytes(const lc_ctx *c);
/* evaluates the batch; LC_ERR_CONTEXT when the cache has no room (nothing is changed) */
int lc_ctx_decode(lc_ctx *c, const lc_batch *b);
/* logits [n_vocab] of batch token i (which must have asked for them), else NULL */
const float *lc_ctx_logits(const lc_ctx *c, int i);
/* forget positions [p0, p1) of a sequence (p1 < 0: to the end); seq < 0: all sequences */
int lc_ctx_seq_rm(lc_ctx *c, int seq, int p0, int p1);
/* largest position held for seq, -1 if empty */
int lc_ctx_seq_pos_max(const lc_ctx *c, int seq);
/* free cells left */
int lc_ctx_n_free(const lc_ctx *c);
/* the kernel set this context computes with: "scalar", "avx2", "avx512" */
const char *lc_ctx_isa(const lc_ctx *c);
/* an int the caller may set from a signal handler to stop lc_ctx_decode early */
void lc_ctx_set_abort(lc_ctx *c, volatile int *flag);

/* ---- sampling ------------------------------------------------------ */
typedef struct lc_sampler lc_sampler;

typedef struct lc_sampler_params {
    float temperature;       /* <= 0: greedy */
    int top_k;               /* <= 0: off; 1: greedy */
    float top_p;             /* >= 1: off; <= 0 keeps only the top token */
    float min_p;             /* <= 0: off; keeps p >= min_p * p_max, applied after top_p */
    float repeat_penalty;    /* 1: off (llama.cpp rule: divide positive, multiply negative) */
    int repeat_last_n;       /* window for all penalties; 0: penalties off; -1: whole history */
    float freq_penalty;      /* OpenAI: logit -= count * freq */
    float presence_penalty;  /* OpenAI: logit -= (count > 0) * presence */
    uint64_t seed;           /* UINT64_MAX: random from the clock and pid; any other value gives a
                                fixed stream (splitmix64-seeded xoshiro256**), the same on every platform */
} lc_sampler_params;
/* Meta's defaults: temperature 0.6, top_k 0, top_p 0.9, min_p 0, repeat_penalty 1.0,
 * repeat_last_n 64, frequency/presence 0, seed UINT64_MAX */
void lc_sampler_params_default(lc_sampler_params *p);

/* p may be NULL (defaults); LC_ERR_ARG for n_vocab <= 0, NaN parameters, repeat_penalty <= 0
 * or inf, repeat_last_n < -1 */
int lc_sampler_new(const lc_sampler_params *p, int n_vocab, lc_sampler **out);
void lc_sampler_free(lc_sampler *s);
/* clears the history; a fixed seed restarts the same stream, UINT64_MAX draws a new one */
void lc_sampler_reset(lc_sampler *s);
void lc_sampler_accept(lc_sampler *s, int32_t id);     /* penalty history; ids out of range ignored */
/* picks a token from logits [n_vocab] (not modified); NaN logits count as -inf, an infinite
 * maximum gives greedy. Never allocates. */
int32_t lc_sampler_sample(lc_sampler *s, const float *logits);

/* Stop strings: feed generated text; tells how much of it may be shown now. */
typedef struct lc_stopper lc_stopper;
/* NULL or empty stop strings are ignored; n = 0 passes text through */
int lc_stopper_new(const char *const *stops, int n, lc_stopper **out);
void lc_stopper_free(lc_stopper *s);
/* appends text; returns 1 when a stop string is complete (and on every later call, emitting
 * nothing), 0 otherwise, LC_ERR_NOMEM on allocation failure. *emit (never NULL) gets the bytes
 * that can safely be printed (excluding any held possible-prefix of a stop string and the stop
 * string itself), *n_emit their count; valid until the next call. When several stops match,
 * the one completing first in the stream wins, whatever the push boundaries. */
int lc_stopper_push(lc_stopper *s, const char *text, size_t len, const char **emit, size_t *n_emit);
/* emits the held bytes that turned out not to be a stop (nothing after a stop); the stopper
 * may then be pushed to again */
void lc_stopper_flush(lc_stopper *s, const char **emit, size_t *n_emit);

/* ---- chat format (Llama 3.1 instruct, HF template semantics) -------- */
typedef struct lc_chat_opts {
    const char *date;          /* "26 Jul 2024" when NULL */
    int add_generation_prompt; /* append the assistant header */
    int tools_in_user_message; /* HF default 1 */
} lc_chat_opts;
void lc_chat_opts_default(lc_chat_opts *o);

/* Renders an OpenAI-style request body (JSON: "messages", optional "tools",
 * "builtin_tools") to the exact prompt text, special tokens as their text.
 * *out is malloc'd, NUL-terminated. Errors for malformed requests. */
int lc_chat_render_json(const char *json, size_t len, const lc_chat_opts *o, char **out);
/* Same, but returns token ids: template special tokens become ids, message content
 * is encoded without special-token parsing (untrusted text). *ids malloc'd. */
int lc_chat_tokenize_json(const lc_tok *t, const char *json, size_t len, const lc_chat_opts *o,
                          int32_t **ids, int *n_ids);

/* Struct form for programs that keep a conversation (llamac chat): roles "system",
 * "user", "assistant", "tool"/"ipython"; content is plain text. */
typedef struct lc_chat_msg { const char *role; const char *content; } lc_chat_msg;
int lc_chat_render(const lc_chat_msg *msgs, int n, const lc_chat_opts *o, char **out);
int lc_chat_tokenize(const lc_tok *t, const lc_chat_msg *msgs, int n, const lc_chat_opts *o,
                     int32_t **ids, int *n_ids);

#ifdef __cplusplus
}
#endif
#endif
