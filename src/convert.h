/* convert.h - model-file tools (convert.c): random-weight GGUF files with the exact tensor
 * shapes of Llama 3.2 1B / 3B and Llama 3.1 8B / 70B (`llamac make-model`), and conversion
 * of F32/F16/BF16 GGUF files or Hugging Face folders to GGUF in another type
 * (`llamac quantize`). Both stream row chunks to disk and never hold a model in memory. */
#ifndef LC_CONVERT_H
#define LC_CONVERT_H

#include "llamac.h"
#include <stdio.h>

/* file types: llama.cpp's llama_ftype numbers, written as general.file_type */
enum {
    LC_FTYPE_F32 = 0,
    LC_FTYPE_F16 = 1,
    LC_FTYPE_Q4_0 = 2,
    LC_FTYPE_Q4_1 = 3,
    LC_FTYPE_Q8_0 = 7,
    LC_FTYPE_Q4_K = 14,   /* every matrix Q4_K (llama.cpp names this number Q4_K_S) */
    LC_FTYPE_Q4_K_M = 15, /* Q4_K with Q6_K for output and half of attn_v / ffn_down */
    LC_FTYPE_Q6_K = 18,
    LC_FTYPE_BF16 = 32,
};
/* "f32" "f16" "bf16" "q8_0" "q4_0" "q4_1" "q4_k" "q4_k_s" "q4_k_m" "q6_k" (any case) -> LC_FTYPE_*;
 * LC_ERR_ARG with the list of names for anything else */
int lc_ftype_parse(const char *name, int *ftype);
const char *lc_ftype_name(int ftype);            /* "Q4_K_M", ...; "?" if unknown */
/* the LC_TYPE_* a 2-D weight `name` with rows of ne0 gets in a file of ftype, in a model of
 * n_layer layers with (has_output) or without (tied) an output.weight: the llama.cpp rules */
int lc_ftype_tensor_type(int ftype, const char *name, int64_t ne0, int n_layer, int has_output);

/* ---- make-model ---------------------------------------------------- */
typedef struct lc_make_model_params {
    const char *shape;         /* "tiny" (dim 256, 2 layers, tied), "1b", "3b", "8b", "70b" */
    const char *type;          /* as lc_ftype_parse, except that "q4_k" means the Q4_K_M mix here */
    uint64_t seed;             /* same seed: same weights in every type */
    const char *tokenizer;     /* tokenizer.json; NULL: $LC_SHARED/data/tokenizer/tokenizer.json,
                                  else ../shared/data/tokenizer/tokenizer.json */
    const char *chat_template; /* a Jinja file; NULL: chat_template.jinja (or tokenizer_config.json)
                                  next to the tokenizer, none if neither exists */
    int n_threads;             /* quantizing threads; 0: 2 */
    void (*progress)(void *ud, double fraction);   /* called per written chunk, may be NULL */
    void *progress_ud;
    volatile int *abort;       /* set non-zero to stop: LC_ERR_CANCELLED, nothing left on disk */
    FILE *log;                 /* a few lines of what is written; NULL: quiet */
} lc_make_model_params;
void lc_make_model_params_default(lc_make_model_params *p);
/* writes a random-weight Llama GGUF with a Llama 3 tokenizer section to path (via path.tmp) */
int lc_make_model(const char *path, const lc_make_model_params *p);

/* ---- quantize ------------------------------------------------------ */
typedef struct lc_quantize_params {
    int n_threads;             /* 0: 2 */
    int allow_requantize;      /* quantized input matrices are dequantized and requantized (a
                                  warning per tensor) instead of refusing */
    void (*progress)(void *ud, double fraction);
    void *progress_ud;
    volatile int *abort;
    FILE *log;                 /* one line per tensor, fallbacks and warnings; NULL: quiet */
} lc_quantize_params;
void lc_quantize_params_default(lc_quantize_params *p);
/* in: a GGUF file (F32/F16/BF16 matrices) or a Hugging Face folder (config.json +
 * safetensors + tokenizer.json); out: GGUF of type (lc_ftype_parse names; "q4_k" is pure
 * Q4_K, "q4_k_m" the mix). Written to out.tmp and renamed. */
int lc_quantize(const char *in, const char *out, const char *type, const lc_quantize_params *p);

#endif
