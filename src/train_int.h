/* train_int.h - what the training files (train*.c) share and the CLI does not need:
 * the model object, the data sets, the PRNG and the GGUF writing helpers. */
#ifndef LC_TRAIN_INT_H
#define LC_TRAIN_INT_H

#include "train.h"
#include "gguf_write.h"

#include <errno.h>

/* ---- PRNG: xoshiro256** seeded by splitmix64 (state saved in checkpoints) ---------------- */
typedef struct lc_rng { uint64_t s[4]; } lc_rng;
void lc_rng_seed(lc_rng *r, uint64_t seed);
uint64_t lc_rng_next(lc_rng *r);
double lc_rng_uniform(lc_rng *r);              /* [0, 1) */
double lc_rng_normal(lc_rng *r);               /* N(0, 1), Box-Muller */

/* ---- data ------------------------------------------------------------------------------ */
typedef struct lc_tr_example {
    int32_t *tok;
    uint8_t *mask;   /* 1: learn this token */
    int n;
} lc_tr_example;

typedef struct lc_tr_data {
    int mode;
    int32_t *tok;                /* pretraining stream */
    int64_t n_tok, n_train;      /* train = [0, n_train), validation = the rest */
    lc_tr_example *ex;           /* fine-tuning conversations */
    int n_ex, cap_ex, n_train_ex;/* train = ex[0 .. n_train_ex), validation = the rest */
    int n_lines, n_skipped, n_truncated;
    char skipped[1024];          /* the first few reasons */
    uint64_t hash;               /* of all tokens and masks (resume check) */
} lc_tr_data;

int lc_tr_data_load(lc_tr_data *d, int mode, const lc_tok *tok, const char *const *paths, int n_paths,
                    float val_frac, int ctx);
void lc_tr_data_free(lc_tr_data *d);
void lc_tr_data_skip_report(const lc_tr_data *d, char *buf, size_t cap);

/* ---- the model -------------------------------------------------------------------------- */
typedef struct lc_tr_tensor {
    char name[96];           /* GGUF name ("blk.0.attn_q.weight", "...weight.lora_a") */
    size_t off;              /* in the trainable array */
    int64_t rows, cols;
    int slot;                /* LC_TR_SLOT_* for base tensors, -1 for adapters */
    int lora;                /* 0 base, 1 A, 2 B */
    int lidx;                /* adapter index l * LC_LORA_N + mm */
    int decay;               /* weight decay applies */
} lc_tr_tensor;

struct lc_tr_model {
    lc_tr_hp hp;
    int lora_rank;
    float lora_alpha, lora_dropout;
    int lora_targets;
    /* trainable parameters, gradients, Adam moments */
    size_t n_train;
    float *p, *g, *m, *v;
    lc_tr_tensor *t;
    int n_t;
    int64_t n_params;        /* all parameters of the network */
    /* frozen parts (LoRA): norm vectors in float, matrices from the source mapping */
    float *frozen;
    /* source model (fine-tuning) */
    char *src_path;
    int src_kind;            /* 0 none, 1 gguf, 2 HF folder */
    lc_gguf gguf;
    lc_hf hf;
    /* the f32 network view */
    lc_tr_net_f32 net;
    const float **w;
    const lc_tensor **wt;
    float **gw;
    const float **la, **lb;
    float **gla, **glb;
    /* lc_tr_model_train_batch state */
    lc_tr_ws_f32 *ws;
    int ws_B, ws_T, step;
};

/* binds m->net to m->p / m->g / frozen / source tensors */
int lc_tr_model_bind(lc_tr_model *m);
int lc_tr_model_alloc(lc_tr_model *m);

/* ---- training state that checkpoints carry ------------------------------------------------ */
typedef struct lc_tr_state {
    int step;
    lc_rng rng;              /* pretraining windows */
    int64_t epoch, cursor;   /* fine-tuning: epoch and position in its permutation */
    uint64_t hash;           /* of the data */
} lc_tr_state;
/* st NULL: no optimizer state (a final model / adapter) */
int lc_tr_save(lc_tr_model *m, const char *path, int f16, const char *tok_src, const char *template_path,
               const char *name, const lc_tr_state *st, uint64_t seed, int total_steps);
int lc_tr_load_state(lc_tr_model *m, const char *path, lc_tr_state *st);

/* ---- GGUF output helpers (train_io.c) ------------------------------------------------------ */
/* llama.* hyper-parameter keys of hp */
int lc_tr_write_hparams(lc_gguf_writer *w, const lc_tr_hp *hp, const char *name, int file_type);
/* tokenizer.* keys from tok_src (GGUF, tokenizer.json, HF folder) and the chat template
 * (template_path, else the source's) */
int lc_tr_write_tokenizer(lc_gguf_writer *w, const char *tok_src, const char *template_path);

/* a float tensor to write: rows x cols, optionally with q/k rows permuted from the HF
 * rotate-half layout to GGUF's interleaved one (perm_hd = head_dim) */
typedef struct lc_tr_wtensor {
    const float *data;
    int64_t rows, cols;
    int type;                /* LC_TYPE_F32 / LC_TYPE_F16 */
    int perm_hd;             /* 0: rows as they are */
    const lc_tensor *src;    /* or: copy / convert this tensor */
} lc_tr_wtensor;
int lc_tr_fill(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst);
/* GGUF row r <- source row of the HF layout */
int64_t lc_tr_perm_row(int64_t r, int hd);

#endif
