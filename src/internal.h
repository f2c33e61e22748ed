/* internal.h - what the library's files share and the public header does not show:
 * error helper, file mapping, half-float conversion, tensors, GGUF and safetensors
 * readers, the tokenizer's constructors and the reference kernels. */
#ifndef LC_INTERNAL_H
#define LC_INTERNAL_H

#include "llamac.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* our own invariants only; never for bytes from files, argv or the network */
#define LC_ASSERT(x)                                                              \
    do {                                                                          \
        if (!(x)) {                                                               \
            fprintf(stderr, "llamac: internal error %s:%d: %s\n", __FILE__,       \
                    __LINE__, #x);                                                \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* ---- errors (util.c) --------------------------------------------- */
/* saves a thread-local message for lc_last_error() and returns code */
int lc_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* prefixes the current message: "<prefix>: <old message>" */
int lc_fail_prefix(int code, const char *prefix);

/* overflow-checked size math: return false on overflow */
static inline bool lc_mul_ok(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool lc_add_ok(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }

/* ---- files (util.c) ------------------------------------------------ */
typedef struct lc_map {
    const uint8_t *data;   /* read-only mapping of the whole file (NULL for size 0) */
    size_t size;
} lc_map;
int lc_map_file(const char *path, lc_map *m);      /* LC_ERR_IO with "path: strerror" */
void lc_unmap(lc_map *m);
double lc_map_huge_fraction(const lc_map *m);     /* FilePmdMapped / size from /proc/self/smaps; -1 unknown */
/* reads a whole (small) file into a malloc'd NUL-terminated buffer */
int lc_read_file(const char *path, char **out, size_t *len, size_t max_len);
bool lc_is_dir(const char *path);
bool lc_file_exists(const char *path);
int lc_n_cores(void);
double lc_time_s(void);                    /* monotonic seconds */
size_t lc_peak_rss_bytes(void);
/* MemAvailable + SwapFree from /proc/meminfo, capped by $LLAMAC_MEM_LIMIT (bytes); 0 when unknown */
size_t lc_mem_available_bytes(void);

/* ---- half floats (util.c) ----------------------------------------- */
float lc_f16_to_f32(uint16_t h);
uint16_t lc_f32_to_f16(float f);           /* round to nearest even, like ggml */
static inline float lc_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
    return v.f;
}
uint16_t lc_f32_to_bf16(float f);

/* ---- UTF-8 (util.c) ------------------------------------------------ */
/* length of the valid UTF-8 sequence starting at s (1..4), or 0 if invalid/incomplete */
int lc_utf8_len(const uint8_t *s, size_t avail);
bool lc_utf8_valid(const char *s, size_t len);

/* ---- tensors and types (quant.c) ---------------------------------- */
typedef struct lc_tensor {
    const char *name;      /* NUL-terminated, owned by the file reader */
    int type;              /* LC_TYPE_* */
    int n_dims;
    int64_t ne[4];         /* ggml order; unused dims are 1 */
    const void *data;      /* view into a mapping */
    size_t nbytes;
} lc_tensor;

int lc_type_block_size(int type);          /* elements per block; 0 if unknown type */
int lc_type_block_bytes(int type);         /* bytes per block; 0 if unknown type */
bool lc_type_supported(int type);          /* one we can compute with */
/* bytes of n elements of type; false if n is not a multiple of the block or overflow */
bool lc_type_row_bytes(int type, int64_t n, size_t *out);
/* dequantize n elements (a multiple of the block size) */
void lc_dequant_row(int type, const void *src, float *dst, int64_t n);
/* quantize (for tests and writers) */
void lc_quant_row(int type, const float *src, void *dst, int64_t n);

/* ---- GGUF reader (gguf.c) ------------------------------------------ */
enum {
    LC_GGUF_U8 = 0, LC_GGUF_I8 = 1, LC_GGUF_U16 = 2, LC_GGUF_I16 = 3, LC_GGUF_U32 = 4,
    LC_GGUF_I32 = 5, LC_GGUF_F32 = 6, LC_GGUF_BOOL = 7, LC_GGUF_STR = 8, LC_GGUF_ARR = 9,
    LC_GGUF_U64 = 10, LC_GGUF_I64 = 11, LC_GGUF_F64 = 12,
};

typedef struct lc_str { const char *p; size_t len; } lc_str;   /* not NUL-terminated */

typedef struct lc_gguf_kv {
    char *key;             /* NUL-terminated copy */
    uint32_t type;         /* LC_GGUF_* */
    uint32_t arr_type;     /* element type when type == LC_GGUF_ARR */
    uint64_t arr_n;        /* element count when type == LC_GGUF_ARR */
    const uint8_t *val;    /* value bytes in the mapping (for arrays: the first element) */
    size_t val_size;       /* bytes of the encoded value (for arrays: all elements) */
} lc_gguf_kv;

typedef struct lc_gguf {
    lc_map map;
    uint32_t version;
    size_t alignment;
    size_t data_start;
    int64_t n_kv;
    lc_gguf_kv *kv;
    int64_t n_tensors;
    lc_tensor *tensors;    /* names are NUL-terminated copies */
} lc_gguf;

/* maps and fully validates the file (every kv parsed, every tensor inside the file,
 * aligned, known type, shape consistent with its size). Messages do not name the
 * path; the caller prefixes it. */
int lc_gguf_open(const char *path, lc_gguf *g);
/* same on a caller-owned buffer (fuzzing, tests); g->map is not owned */
int lc_gguf_parse(const uint8_t *data, size_t size, lc_gguf *g);
void lc_gguf_close(lc_gguf *g);
const lc_gguf_kv *lc_gguf_find(const lc_gguf *g, const char *key);
/* getters: LC_OK, 1 when the key is missing, LC_ERR_FORMAT when of the wrong type */
int lc_gguf_get_int(const lc_gguf *g, const char *key, int64_t *out);   /* any integer or bool */
int lc_gguf_get_float(const lc_gguf *g, const char *key, double *out);  /* any number */
int lc_gguf_get_str(const lc_gguf *g, const char *key, lc_str *out);
/* string array -> malloc'd array of views into the mapping */
int lc_gguf_get_str_array(const lc_gguf *g, const char *key, lc_str **out, uint64_t *n);
/* integer array (any integer element type) -> malloc'd int64 array */
int lc_gguf_get_int_array(const lc_gguf *g, const char *key, int64_t **out, uint64_t *n);
/* float array -> malloc'd */
int lc_gguf_get_float_array(const lc_gguf *g, const char *key, float **out, uint64_t *n);
const lc_tensor *lc_gguf_tensor(const lc_gguf *g, const char *name);

/* ---- Hugging Face folder (safetensors.c) ---------------------------- */
typedef struct lc_hf {
    lc_map *maps;          /* one per shard */
    int n_maps;
    lc_tensor *tensors;    /* renamed to GGUF names (token_embd.weight, blk.N.attn_q.weight, ...),
                              ne reversed to ggml order; types F32/F16/BF16 */
    char **names;          /* storage for tensor names */
    int64_t n_tensors;
    lc_model_info hp;      /* hyper-parameters from config.json; rope_neox = 1 */
    float *rope_freqs;     /* head_dim/2 llama3 divisors, NULL when unscaled */
    char *tokenizer_path;  /* dir/tokenizer.json (or tokenizer.model), NULL if none */
    char *chat_template;   /* from tokenizer_config.json, NULL if none */
    int32_t *eos_ids;      /* config.json eos_token_id (int or list) */
    int n_eos;
} lc_hf;

int lc_hf_open(const char *dir, lc_hf *h);
void lc_hf_close(lc_hf *h);
/* parse one safetensors buffer (fuzzing, tests): tensors keep their HF names */
int lc_safetensors_parse(const uint8_t *data, size_t size, lc_tensor **out, char ***names, int64_t *n);
/* llama3 rope divisors (spec model.md 2.2), n = head_dim/2 */
void lc_rope_llama3_freqs(float *out, int head_dim, float theta, float factor, float low_ff,
                          float high_ff, int orig_ctx);

/* ---- tokenizer (tokenizer.c) ---------------------------------------- */
int lc_tok_from_gguf(const lc_gguf *g, lc_tok **out);
/* like lc_tok_encode, but special tokens are recognised only where special_ok[byte] != 0
 * (special_ok NULL: nowhere). Text between specials is pre-tokenized as one span. */
int lc_tok_encode_masked(const lc_tok *t, const char *text, size_t len, const uint8_t *special_ok,
                         bool add_bos, int32_t *ids, int cap);
/* the Llama 3 pre-tokenizer alone: calls cb for every piece of text, in order
 * (invalid UTF-8 bytes are pieces of one byte) */
int lc_pretok_split(const char *text, size_t len, void (*cb)(void *ud, const char *piece, size_t n), void *ud);
/* set extra end-of-generation ids (config.json eos list) */
void lc_tok_add_eog(lc_tok *t, int32_t id);

/* ---- threads (threads.c) -------------------------------------------- */
typedef struct lc_pool lc_pool;
typedef void (*lc_task_fn)(void *arg, int ith, int nth);
int lc_pool_new(int n_threads, lc_pool **out);
void lc_pool_free(lc_pool *p);
int lc_pool_n(const lc_pool *p);
/* runs fn(arg, ith, nth) on every thread (the caller is thread 0) and waits */
void lc_pool_run(lc_pool *p, lc_task_fn fn, void *arg);

#endif
