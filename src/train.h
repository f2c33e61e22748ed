/* train.h - training engine: a float32 training model of the whole Llama architecture
 * (forward with saved activations, exact backward), AdamW, pretraining on text, chat
 * fine-tuning (full or LoRA) on OpenAI-style JSONL, GGUF checkpoints with optimizer state,
 * LoRA adapters as GGUF and merging them into a model.
 *
 * ---- LoRA adapter GGUF (this project's definition) ------------------------------------
 * keys:   general.architecture = "llama", adapter.type = "lora",
 *         adapter.lora.alpha (f32), adapter.lora.rank (u32), adapter.lora.dropout (f32),
 *         adapter.lora.targets (str, e.g. "q,k,v,o"),
 *         and the base model's shape: llama.embedding_length, llama.block_count,
 *         llama.attention.head_count, llama.attention.head_count_kv, llama.rope.dimension_count,
 *         llama.feed_forward_length, llama.vocab_size. A base whose shape differs is refused.
 * tensors (F32, ggml order = ne[0] is the row length):
 *         "blk.N.<m>.weight.lora_a"  ne = [in, r]   (row-major A: r rows of `in`)
 *         "blk.N.<m>.weight.lora_b"  ne = [r, out]  (row-major B: out rows of r)
 *         with <m> one of attn_q attn_k attn_v attn_output ffn_gate ffn_up ffn_down.
 *         B rows of attn_q/attn_k are in GGUF (Meta, interleaved RoPE) order whatever the
 *         layout of the model trained on.
 * effect: W' = W + scale * B.A with scale = alpha / r * user_scale (--lora-scale, default 1).
 *         y = W'x. A is initialised uniform(+-1/sqrt(in)) (kaiming-uniform-like), B = 0.
 * An adapter file may also carry "train.*" keys and tensors (optimizer state, for resume);
 * loaders ignore them.
 *
 * ---- checkpoint GGUF ---------------------------------------------------------------------
 * A normal arch-llama GGUF (llama.* keys, rope_freqs.weight when scaled, F32 or F16
 * weights, tokenizer.ggml.* + tokenizer.chat_template) that lc_model_load reads, plus,
 * when written with optimizer state: keys train.step, train.total_steps, train.seed,
 * train.rng (u64[4]), train.data_epoch, train.data_cursor, train.data_hash, train.mode and
 * tensors "train.m.<name>", "train.v.<name>" (Adam moments, F32) and, when the weights are
 * stored as F16, "train.w.<name>" (the F32 master weights). */
#ifndef LC_TRAIN_H
#define LC_TRAIN_H

#include "internal.h"

/* ---- architecture of a training model -------------------------------------------- */
typedef struct lc_tr_hp {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, n_vocab;
    int n_ctx;             /* llama.context_length written to checkpoints */
    float norm_eps, rope_theta;
    int tied;              /* output projection = token embedding */
    int neox;              /* weights in HF rotate-half layout (HF folder sources) */
    int rope_scaled;       /* llama3 scaling: rope_div holds the divisors */
    float rope_div[512];   /* (head_dim/2) divisors as in rope_freqs.weight */
    double inv_freq[512];  /* (head_dim/2) theta^(-2i/hd) / rope_div[i], as model.c */
} lc_tr_hp;

/* fills inv_freq (and the llama3 divisors when scaled: factor, low, high, orig ctx) */
void lc_tr_hp_rope(lc_tr_hp *hp, int scaled, float factor, float low_ff, float high_ff, int orig_ctx);

/* tensor slots: 0 token_embd, per layer 9 (see LC_TR_K_*), then output_norm, output */
enum { LC_TR_K_ATTN_NORM, LC_TR_K_Q, LC_TR_K_K, LC_TR_K_V, LC_TR_K_O, LC_TR_K_FFN_NORM,
       LC_TR_K_GATE, LC_TR_K_UP, LC_TR_K_DOWN, LC_TR_K_N };
#define LC_TR_SLOT_EMBD 0
#define LC_TR_SLOT(l, k) (1 + (l) * LC_TR_K_N + (k))
#define LC_TR_SLOT_ONORM(L) (1 + (L) * LC_TR_K_N)
#define LC_TR_SLOT_OUT(L) (2 + (L) * LC_TR_K_N)
#define LC_TR_N_SLOTS(L) (3 + (L) * LC_TR_K_N)
/* LoRA target matrices (bit i of a target mask) */
enum { LC_LORA_Q, LC_LORA_K, LC_LORA_V, LC_LORA_O, LC_LORA_GATE, LC_LORA_UP, LC_LORA_DOWN, LC_LORA_N };
int lc_lora_slot_k(int mm);                        /* LC_LORA_* -> LC_TR_K_* */
const char *lc_lora_short_name(int mm);            /* "q", "k", ..., "down" */
const char *lc_tr_slot_gguf_name(int k);           /* "attn_q", ... for a layer slot */
/* shape (rows = out, cols = in) of a slot; vectors have rows = 1 */
void lc_tr_slot_shape(const lc_tr_hp *hp, int slot, int64_t *rows, int64_t *cols);
/* "token_embd.weight", "blk.3.attn_q.weight", ... */
void lc_tr_slot_name(const lc_tr_hp *hp, int slot, char *buf, size_t cap);
/* parses "q,k,v,o,gate,up,down" (or "all", "attn", "mlp") into a mask; -1 on error */
int lc_lora_parse_targets(const char *s);

/* ---- the type-generic core (train_tpl.h), in float32 and float64 --------------------- */
#define LC_TR_R float
#define LC_TR_S(x) x##_f32
#include "train_tpl.h"
#undef LC_TR_R
#undef LC_TR_S
#define LC_TR_R double
#define LC_TR_S(x) x##_f64
#include "train_tpl.h"
#undef LC_TR_R
#undef LC_TR_S

/* ---- options ------------------------------------------------------------------------- */
enum { LC_TRAIN_PRETRAIN = 0, LC_TRAIN_FINETUNE = 1 };

typedef struct lc_train_opts {
    int mode;                  /* LC_TRAIN_PRETRAIN (text) or LC_TRAIN_FINETUNE (chat JSONL) */
    /* model: either a source model (GGUF file or HF folder) or a fresh init */
    const char *model_path;    /* NULL: initialise a new model from the fields below */
    const char *tokenizer_path;/* tokenizer for a new model (tokenizer.json or .gguf) */
    int dim, n_layers, n_heads, n_kv_heads, ffn_dim; /* new model; ffn 0: 8/3 dim rounded to 32 */
    int ctx;                   /* training window (tokens per sequence) */
    float rope_theta;          /* new model; default 500000 */
    int rope_scaled;           /* new model: llama3 scaling (factor 8, 1, 4, orig ctx 8192) */
    int tied;                  /* new model: tie output to embedding (default 1) */
    /* data */
    const char *const *data;   /* text files (pretrain) or JSONL files (finetune) */
    int n_data;
    float val_frac;            /* held-out fraction (default 0.05) */
    int val_every;             /* steps between validation runs (0: only at the end) */
    int val_batches;           /* batches per validation (default 8) */
    /* optimisation */
    int steps, batch, accum;   /* optimizer steps; sequences per micro-batch; micro-batches/step */
    float lr, min_lr;          /* peak and final learning rate (cosine decay) */
    int warmup;                /* linear warmup steps */
    float weight_decay;        /* decoupled; applied to 2-D matrices except token_embd */
    float beta1, beta2, eps, clip;  /* clip: max global grad norm, 0: off */
    uint64_t seed;
    int threads;
    /* LoRA (finetune only): rank 0 = full fine-tuning */
    int lora_rank;
    float lora_alpha, lora_dropout;
    int lora_targets;          /* mask of LC_LORA_*; 0: q,k,v,o */
    /* output */
    const char *out_path;      /* final model (or adapter) without optimizer state */
    int out_f16;               /* store weights as F16 (out and checkpoints) */
    const char *ckpt_path;     /* checkpoint with optimizer state (resumable) */
    int ckpt_every;            /* steps between checkpoints (0: only at the end) */
    const char *resume_path;   /* checkpoint (or adapter) to continue from */
    const char *chat_template_path; /* chat template file to store (default: from source) */
    const char *name;          /* general.name */
    /* reporting */
    int log_every;             /* progress newline every N steps when stderr is not a tty */
    int quiet;
    /* results (filled by lc_train_run) */
    float *loss_log;           /* optional caller buffer [steps]: training loss per step */
    double final_loss, final_val_loss, tokens_per_s;
    int64_t n_params, n_trainable;
    /* stop after this many steps as if interrupted (checkpoint written, no final model);
     * the schedule still follows `steps`. 0: off */
    int stop_at;
    /* test hook: make the loss of this (1-based) step NaN; 0: off */
    int debug_nan_step;
    /* abort flag (e.g. set by a SIGINT handler), read after every step: when it is non-zero
     * the run stops, writes the checkpoint (ckpt_path, resumable) but no final model, and
     * returns LC_ERR_CANCELLED. NULL: none */
    const volatile int *cancel;
} lc_train_opts;

void lc_train_opts_default(lc_train_opts *o);
int lc_train_run(lc_train_opts *o);

/* ---- building blocks (tests, bench, CLI) ---------------------------------------------- */
typedef struct lc_tr_model lc_tr_model;   /* parameters + optimizer state + the f32 net */

/* a fresh model with seeded initialisation (normal(0, 0.02), residual projections scaled
 * by 1/sqrt(2 n_layers), norms 1) */
int lc_tr_model_init(const lc_tr_hp *hp, uint64_t seed, lc_tr_model **out);
/* a model from any file lc_model_load reads; lora_rank > 0 keeps the base frozen (and
 * quantized tensors quantized: dequantized per matrix at use time) and trains adapters */
int lc_tr_model_load(const char *path, int lora_rank, float lora_alpha, float lora_dropout, int lora_targets,
                     uint64_t seed, lc_tr_model **out);
void lc_tr_model_free(lc_tr_model *m);
const lc_tr_hp *lc_tr_model_hp(const lc_tr_model *m);
lc_tr_net_f32 *lc_tr_model_net(lc_tr_model *m);
/* the trainable parameters: count, values, gradients */
size_t lc_tr_model_n_train(const lc_tr_model *m);
float *lc_tr_model_params(lc_tr_model *m);
float *lc_tr_model_grads(lc_tr_model *m);
/* trainable tensor list */
int lc_tr_model_n_tensors(const lc_tr_model *m);
const char *lc_tr_model_tensor(const lc_tr_model *m, int i, size_t *offset, int64_t *rows, int64_t *cols);
/* logits (B*T, n_vocab) of the f32 training forward (no dropout) */
int lc_tr_model_logits(lc_tr_model *m, const int32_t *tok, int B, int T, int threads, float *logits);
/* one AdamW step (betas 0.9/0.95, no weight decay, clip 1) on a fixed batch; returns the
 * batch loss before the update in *loss. For tests and benchmarks. */
int lc_tr_model_train_batch(lc_tr_model *m, const int32_t *tok, const int32_t *tgt, int B, int T, float lr,
                            int threads, double *loss);
/* loads adapter weights (lora_a/lora_b) into a LoRA training model of the same rank/targets */
int lc_tr_model_load_adapter(lc_tr_model *m, const char *path);
/* writes the model as GGUF (LoRA models: the adapter). tok_src: tokenizer.json/.gguf/HF dir
 * whose tokenizer section is copied (NULL: none / the source model's) */
int lc_tr_model_save(lc_tr_model *m, const char *path, int f16, const char *tok_src, const char *template_path);

/* ---- LoRA adapters at inference ------------------------------------------------------- */
typedef struct lc_lora lc_lora;
/* loads an adapter and checks it against the base model's shape (clear error if not) */
int lc_lora_load(const char *path, const lc_model_info *base, lc_lora **out);
void lc_lora_free(lc_lora *a);
float lc_lora_alpha(const lc_lora *a);
int lc_lora_rank(const lc_lora *a);
/* 1 if the adapter changes this tensor (GGUF name, e.g. "blk.0.attn_q.weight") */
int lc_lora_has(const lc_lora *a, const char *tensor_name);
/* out (ne1 rows of ne0 floats) = dequant(W) + user_scale * alpha/r * B.A for one tensor
 * of type `type` holding ne0*ne1 elements at `data`. neox: the base is in HF rotate-half
 * layout (lc_model_info.rope_neox), B rows of q/k are permuted to match. A tensor the
 * adapter does not touch is only dequantized. */
int lc_lora_merge_tensor(const lc_lora *a, const char *tensor_name, int type, const void *data, int64_t ne0,
                         int64_t ne1, int neox, float user_scale, float *out);
/* llamac merge-lora: base GGUF + adapter -> merged GGUF. Targeted matrices are written as
 * out_type (LC_TYPE_F32 default, LC_TYPE_F16, or -1: requantized to the base tensor's type),
 * everything else copied byte for byte. */
int lc_lora_merge(const char *base_path, const char *adapter_path, float user_scale, int out_type,
                  const char *out_path);

/* ---- chat data (train_data.c) ---------------------------------------------------------- */
/* tokens of one conversation ({"messages": [...], "tools": ...}) and a loss mask: mask[i]
 * = 1 for tokens of assistant messages (content/tool call and the closing eot/eom), 0 for
 * everything else (system, user, tool results, headers). */
int lc_chat_tokenize_masked(const lc_tok *t, const char *json, size_t len, int32_t **ids, uint8_t **mask,
                            int *n);

#endif
