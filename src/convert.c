/* convert.c - model-file tools: `make-model` writes random-weight GGUF files with the exact
 * tensor shapes of Llama 3.2 1B/3B and 3.1 8B/70B plus a real Llama 3 tokenizer section;
 * `quantize` converts GGUF files and Hugging Face folders to another weight type with
 * llama.cpp's rules (Q4_K_M mix, fallbacks, 1-D tensors F32). Rows are made chunk by chunk
 * in the writer's fill callback on a small thread pool, so no model is ever held in memory. */
#include "internal.h"
#include "convert.h"
#include "gguf_write.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_TOKENIZER_JSON ((size_t)256 << 20)
#define MAX_TEMPLATE ((size_t)4 << 20)

/* ---- file types ------------------------------------------------------------ */
static const struct { const char *name; int ftype; int type; } ftypes[] = {
    { "f32", LC_FTYPE_F32, LC_TYPE_F32 },       { "f16", LC_FTYPE_F16, LC_TYPE_F16 },
    { "bf16", LC_FTYPE_BF16, LC_TYPE_BF16 },    { "q8_0", LC_FTYPE_Q8_0, LC_TYPE_Q8_0 },
    { "q4_0", LC_FTYPE_Q4_0, LC_TYPE_Q4_0 },    { "q4_1", LC_FTYPE_Q4_1, LC_TYPE_Q4_1 },
    { "q4_k", LC_FTYPE_Q4_K, LC_TYPE_Q4_K },    { "q4_k_s", LC_FTYPE_Q4_K, LC_TYPE_Q4_K },
    { "q4_k_m", LC_FTYPE_Q4_K_M, LC_TYPE_Q4_K }, { "q6_k", LC_FTYPE_Q6_K, LC_TYPE_Q6_K },
};
#define FTYPE_NAMES "f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q4_k_m, q6_k"

int lc_ftype_parse(const char *name, int *ftype) {
    for (size_t i = 0; name && i < LC_ARRAY_LEN(ftypes); i++)
        if (strcasecmp(name, ftypes[i].name) == 0) {
            *ftype = ftypes[i].ftype;
            return LC_OK;
        }
    return lc_fail(LC_ERR_ARG, "unknown type '%s' (expected one of " FTYPE_NAMES ")", name ? name : "(null)");
}

const char *lc_ftype_name(int ftype) {
    switch (ftype) {
    case LC_FTYPE_F32: return "F32";
    case LC_FTYPE_F16: return "F16";
    case LC_FTYPE_BF16: return "BF16";
    case LC_FTYPE_Q8_0: return "Q8_0";
    case LC_FTYPE_Q4_0: return "Q4_0";
    case LC_FTYPE_Q4_1: return "Q4_1";
    case LC_FTYPE_Q4_K: return "Q4_K";
    case LC_FTYPE_Q4_K_M: return "Q4_K_M";
    case LC_FTYPE_Q6_K: return "Q6_K";
    default: return "?";
    }
}

static int ftype_base_type(int ftype) {
    for (size_t i = 0; i < LC_ARRAY_LEN(ftypes); i++)
        if (ftypes[i].ftype == ftype) return ftypes[i].type;
    return -1;
}

static bool is_quant(int type) { return lc_type_block_size(type) > 1; }
static bool is_float(int type) { return type == LC_TYPE_F32 || type == LC_TYPE_F16 || type == LC_TYPE_BF16; }

static void logf_(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(FILE *log, const char *fmt, ...) {
    if (!log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fflush(log);
}

/* ---- output tensors and the type rules -------------------------------------- */
enum { SRC_TENSOR, SRC_RANDOM, SRC_VALUES };

typedef struct cv_out {
    char name[96];
    int type, n_dims, layer;  /* layer: N of blk.N., -1 for the others */
    int64_t ne[4], rows;      /* rows: product of ne[1..] */
    size_t row_bytes;
    int kind;                 /* SRC_* */
    const lc_tensor *src;     /* SRC_TENSOR */
    size_t src_row_bytes;
    int perm_hd;              /* > 0: HF q/k rows, un-permute within heads of perm_hd rows */
    float mean, std;          /* SRC_RANDOM: mean + std * noise */
    uint64_t hash;
    const float *values;      /* SRC_VALUES */
} cv_out;

static int layer_of(const char *name) {
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1 || l < 0) l = -1;
    return l;
}

/* llama.cpp's order (llama_model_loader's weight_name_comparer): tensors outside layers
 * first, then layer by layer; by name inside each group */
static int cmp_out(const void *a, const void *b) {
    const cv_out *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* whether llama.cpp's quantizer touches a tensor: 2-D+ "*weight" that is not a norm */
static bool quantizable(const char *name, int n_dims) {
    return n_dims >= 2 && ends_with(name, "weight") && !strstr(name, "_norm.weight");
}

/* llama.cpp use_more_bits: first and last eighth of the layers and every third in between */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

typedef struct type_ctx {
    int ftype;
    bool has_output;   /* an output.weight exists (else token_embd is the output) */
    int n_layer;       /* layers (ffn_down rule) */
    int n_attn_v;      /* attn_v tensors (attn_v rule) */
    FILE *log;
} type_ctx;

/* the type of a 2-D weight: the file type, the Q4_K_M mix, then the fallback for rows that do
 * not fill whole blocks (llama_tensor_get_type in llama.cpp src/llama-quant.cpp) */
static int pick_type(const type_ctx *c, const char *name, int64_t ne0, int64_t ne1) {
    int type = ftype_base_type(c->ftype);
    if (c->ftype == LC_FTYPE_Q4_K_M) {
        if (strcmp(name, "output.weight") == 0 || (!c->has_output && strcmp(name, "token_embd.weight") == 0))
            type = ne0 % 256 ? LC_TYPE_Q8_0 : LC_TYPE_Q6_K;
        else if (strstr(name, "attn_v.weight") && more_bits(layer_of(name), c->n_attn_v))
            type = LC_TYPE_Q6_K;
        else if (strstr(name, "ffn_down") && more_bits(layer_of(name), c->n_layer))
            type = LC_TYPE_Q6_K;
    }
    int bs = lc_type_block_size(type);
    if (ne0 % bs) {
        /* llama.cpp: Q6_K -> Q8_0, Q4_K -> Q5_0 (which we do not have: Q8_0), then F16 */
        int fb = bs == 256 ? LC_TYPE_Q8_0 : LC_TYPE_F16;
        if (ne0 % lc_type_block_size(fb)) fb = LC_TYPE_F16;
        logf_(c->log, "  %s: rows of %lld (x %lld) are not a multiple of %d, required for %s: using fallback %s\n",
              name, (long long)ne0, (long long)ne1, bs, lc_type_name(type), lc_type_name(fb));
        type = fb;
    }
    return type;
}

int lc_ftype_tensor_type(int ftype, const char *name, int64_t ne0, int n_layer, int has_output) {
    if (ftype_base_type(ftype) < 0) return -1;
    type_ctx c = { ftype, has_output != 0, n_layer, n_layer, NULL };
    return pick_type(&c, name, ne0, 1);
}

/* ---- the plan: tensors + a thread pool for the fill callback -------------------- */
typedef struct cv_plan {
    cv_out *t;
    int n, cap;
    uint64_t seed;
    volatile int *abort;
    lc_pool *pool;
    float **buf;              /* one row buffer per thread */
    int nth;
    /* the current fill call */
    const cv_out *cur;
    int64_t row0, nrows;
    uint8_t *dst;
} cv_plan;

static void plan_free(cv_plan *p) {
    if (p->buf)
        for (int i = 0; i < p->nth; i++) free(p->buf[i]);
    free(p->buf);
    lc_pool_free(p->pool);
    free(p->t);
    memset(p, 0, sizeof *p);
}

static cv_out *plan_add(cv_plan *p, const char *name, int n_dims, const int64_t *ne) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        cv_out *nt = realloc(p->t, (size_t)cap * sizeof *nt);
        if (!nt) return NULL;
        p->t = nt;
        p->cap = cap;
    }
    cv_out *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->rows = 1;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        if (d >= 1) t->rows *= t->ne[d];
    }
    t->layer = layer_of(name);
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a of the name: weights do not depend on order */
    for (const char *s = name; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    t->hash = h;
    return t;
}

/* sorts, registers the tensors with the writer and starts the threads */
static int plan_start(cv_plan *p, lc_gguf_writer *w, int n_threads) {
    qsort(p->t, (size_t)p->n, sizeof *p->t, cmp_out);
    int64_t max_ne0 = 1;
    for (int i = 0; i < p->n; i++) {
        cv_out *t = &p->t[i];
        if (!lc_type_row_bytes(t->type, t->ne[0], &t->row_bytes))
            return lc_fail(LC_ERR_ARG, "tensor '%s': rows of %lld do not fit %s", t->name, (long long)t->ne[0],
                           lc_type_name(t->type));
        if (t->kind == SRC_TENSOR && !lc_type_row_bytes(t->src->type, t->ne[0], &t->src_row_bytes))
            return lc_fail(LC_ERR_FORMAT, "tensor '%s': bad source rows", t->name);
        max_ne0 = LC_MAX(max_ne0, t->ne[0]);
        int rc = lc_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne);
        if (rc) return rc;
    }
    p->nth = n_threads > 0 ? LC_MIN(n_threads, 256) : 2;
    int rc = lc_pool_new(p->nth, &p->pool);
    if (rc) return rc;
    if (!(p->buf = calloc((size_t)p->nth, sizeof *p->buf))) return lc_fail(LC_ERR_NOMEM, "no memory");
    for (int i = 0; i < p->nth; i++)
        if (!(p->buf[i] = malloc((size_t)max_ne0 * sizeof(float)))) return lc_fail(LC_ERR_NOMEM, "no memory");
    return LC_OK;
}

/* ---- random rows ------------------------------------------------------------ */
static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* mean + std * (sum of four 16-bit uniforms, centred and scaled to unit variance) */
static void random_row(const cv_out *t, uint64_t seed, int64_t row, float *x) {
    uint64_t s = t->hash ^ (seed * 0xd1b54a32d192ed03ull) ^ ((uint64_t)row * 0x8cb92ba72f3d8dd7ull);
    splitmix64(&s);
    const float k = 1.7320508f / 65536.0f;
    for (int64_t i = 0; i < t->ne[0]; i++) {
        uint64_t r = splitmix64(&s);
        float u = (float)((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48)) - 131070.0f;
        x[i] = t->mean + t->std * (u * k);
    }
}

static void make_row(const cv_plan *p, const cv_out *t, int64_t r, uint8_t *dst, float *buf) {
    int64_t n = t->ne[0];
    switch (t->kind) {
    case SRC_VALUES: lc_quant_row(t->type, t->values + r * n, dst, n); break;
    case SRC_RANDOM:
        random_row(t, p->seed, r, buf);
        lc_quant_row(t->type, buf, dst, n);
        break;
    default: {
        int64_t s = r;
        if (t->perm_hd > 0) {   /* GGUF row h*hd + 2j + k  <-  HF row h*hd + k*hd/2 + j */
            int64_t hd = t->perm_hd, h = r / hd, i = r % hd;
            s = h * hd + (i % 2) * (hd / 2) + i / 2;
        }
        const uint8_t *src = (const uint8_t *)t->src->data + (size_t)s * t->src_row_bytes;
        if (t->src->type == t->type) {
            memcpy(dst, src, t->row_bytes);
        } else {
            lc_dequant_row(t->src->type, src, buf, n);
            lc_quant_row(t->type, buf, dst, n);
        }
    }
    }
}

static void fill_task(void *arg, int ith, int nth) {
    const cv_plan *p = arg;
    const cv_out *t = p->cur;
    int64_t per = (p->nrows + nth - 1) / nth, r0 = ith * per, r1 = LC_MIN(r0 + per, p->nrows);
    for (int64_t r = r0; r < r1; r++) make_row(p, t, p->row0 + r, p->dst + (size_t)r * t->row_bytes, p->buf[ith]);
}

static int fill(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    cv_plan *p = ud;
    if (p->abort && *p->abort) return lc_fail(LC_ERR_CANCELLED, "cancelled");
    const cv_out *t = &p->t[ti];
    p->cur = t;
    p->row0 = row0;
    p->nrows = n_rows;
    p->dst = dst;
    lc_pool_run(p->pool, fill_task, p);
    if (t->kind == SRC_TENSOR && !t->perm_hd) {
        /* done with these input pages: let the kernel drop them (file-backed, clean) */
        long pg = sysconf(_SC_PAGESIZE);
        uintptr_t a = (uintptr_t)t->src->data + (size_t)row0 * t->src_row_bytes;
        uintptr_t b = a + (size_t)n_rows * t->src_row_bytes;
        a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
        b &= ~((uintptr_t)pg - 1);
        if (pg > 0 && b > a) madvise((void *)a, b - a, MADV_DONTNEED);
    }
    return LC_OK;
}

/* ---- tokenizer.json -> tokenizer.ggml.* ---------------------------------------- */
enum { TT_NORMAL = 1, TT_UNUSED = 5, TT_CONTROL = 3, TT_USER = 4 };

typedef struct cv_vocab {
    json_t *root;             /* token strings point into it */
    lc_str *tok;
    int32_t *type;
    int64_t n;
    lc_str *merge;
    char *merge_mem;          /* "a b" strings of merges given as pairs */
    int64_t n_merges;
    char **pads;              /* "[PADn]" names for ids missing from the file */
    int64_t n_pads;
} cv_vocab;

static void vocab_free(cv_vocab *v) {
    json_decref(v->root);
    free(v->tok);
    free(v->type);
    free(v->merge);
    free(v->merge_mem);
    for (int64_t i = 0; i < v->n_pads; i++) free(v->pads[i]);
    free(v->pads);
    memset(v, 0, sizeof *v);
}

static int64_t vocab_find(const cv_vocab *v, const char *text) {
    size_t n = strlen(text);
    for (int64_t i = v->n - 1; i >= 0; i--)   /* specials sit at the end */
        if (v->tok[i].len == n && memcmp(v->tok[i].p, text, n) == 0) return i;
    return -1;
}

/* reads a HF tokenizer.json (byte-level BPE); n_min: pad the vocabulary to this many ids */
static int vocab_load(const char *path, int64_t n_min, cv_vocab *v) {
    memset(v, 0, sizeof *v);
    char *buf;
    size_t len;
    int rc = lc_read_file(path, &buf, &len, MAX_TOKENIZER_JSON);
    if (rc) return lc_fail_prefix(rc, path);
    json_error_t err;
    v->root = json_loadb(buf, len, JSON_ALLOW_NUL, &err);
    free(buf);
    if (!v->root) return lc_fail(LC_ERR_FORMAT, "%s: bad JSON: %s (line %d)", path, err.text, err.line);
    const json_t *model = json_object_get(v->root, "model");
    const json_t *type = json_object_get(model, "type");
    const json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    const json_t *added = json_object_get(v->root, "added_tokens");
    if (!json_is_object(model) || (type && !(json_is_string(type) && strcmp(json_string_value(type), "BPE") == 0)))
        return lc_fail(LC_ERR_UNSUPPORTED, "%s: not a BPE tokenizer", path);
    if (!json_is_object(vocab) || !json_is_array(merges))
        return lc_fail(LC_ERR_FORMAT, "%s: model.vocab or model.merges missing", path);
    /* ids */
    int64_t n = n_min;
    const char *key;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach((json_t *)vocab, key, klen, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= (1 << 24))
            return lc_fail(LC_ERR_FORMAT, "%s: vocab entry '%.40s' has a bad id", path, key);
        n = LC_MAX(n, json_integer_value(val) + 1);
    }
    size_t i;
    json_array_foreach(added, i, val) {
        const json_t *id = json_object_get(val, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 24) ||
            !json_is_string(json_object_get(val, "content")))
            return lc_fail(LC_ERR_FORMAT, "%s: added_tokens[%zu] needs an id and a content", path, i);
        n = LC_MAX(n, json_integer_value(id) + 1);
    }
    if (!(v->tok = calloc((size_t)n, sizeof *v->tok)) || !(v->type = calloc((size_t)n, sizeof *v->type)))
        return lc_fail(LC_ERR_NOMEM, "no memory");
    v->n = n;
    json_object_keylen_foreach((json_t *)vocab, key, klen, val) {
        int64_t id = json_integer_value(val);
        v->tok[id] = (lc_str){ key, klen };
        v->type[id] = TT_NORMAL;
    }
    json_array_foreach(added, i, val) {
        int64_t id = json_integer_value(json_object_get(val, "id"));
        const json_t *c = json_object_get(val, "content");
        v->tok[id] = (lc_str){ json_string_value(c), json_string_length(c) };
        v->type[id] = json_is_true(json_object_get(val, "special")) ? TT_CONTROL : TT_USER;
    }
    /* ids nobody names get "[PADn]" (like llama.cpp's converter) */
    for (int64_t id = 0; id < n; id++) {
        if (v->type[id]) continue;
        char **np = realloc(v->pads, (size_t)(v->n_pads + 1) * sizeof *np);
        if (!np) return lc_fail(LC_ERR_NOMEM, "no memory");
        v->pads = np;
        if (asprintf(&v->pads[v->n_pads], "[PAD%lld]", (long long)id) < 0) return lc_fail(LC_ERR_NOMEM, "no memory");
        v->tok[id] = (lc_str){ v->pads[v->n_pads], strlen(v->pads[v->n_pads]) };
        v->n_pads++;
        v->type[id] = TT_UNUSED;
    }
    /* merges: "a b" strings, or [a, b] pairs in newer files */
    size_t nm = json_array_size(merges), mem = 0;
    json_array_foreach(merges, i, val) {
        if (json_is_string(val)) continue;
        if (!json_is_array(val) || json_array_size(val) != 2 || !json_is_string(json_array_get(val, 0)) ||
            !json_is_string(json_array_get(val, 1)))
            return lc_fail(LC_ERR_FORMAT, "%s: merges[%zu] is neither \"a b\" nor [a, b]", path, i);
        mem += json_string_length(json_array_get(val, 0)) + json_string_length(json_array_get(val, 1)) + 1;
    }
    if (!(v->merge = calloc(nm ? nm : 1, sizeof *v->merge)) || !(v->merge_mem = malloc(mem ? mem : 1)))
        return lc_fail(LC_ERR_NOMEM, "no memory");
    char *m = v->merge_mem;
    json_array_foreach(merges, i, val) {
        if (json_is_string(val)) {
            v->merge[i] = (lc_str){ json_string_value(val), json_string_length(val) };
            continue;
        }
        const json_t *a = json_array_get(val, 0), *b = json_array_get(val, 1);
        size_t la = json_string_length(a), lb = json_string_length(b);
        memcpy(m, json_string_value(a), la);
        m[la] = ' ';
        memcpy(m + la + 1, json_string_value(b), lb);
        v->merge[i] = (lc_str){ m, la + 1 + lb };
        m += la + 1 + lb;
    }
    v->n_merges = (int64_t)nm;
    return LC_OK;
}

/* chat template from a tokenizer_config.json ("chat_template": string or [{name, template}]) */
static int template_from_config(const char *path, char **out) {
    *out = NULL;
    json_error_t err;
    json_t *cfg = json_load_file(path, 0, &err);
    if (!cfg) return lc_fail(LC_ERR_FORMAT, "%s: bad JSON: %s", path, err.text);
    const json_t *t = json_object_get(cfg, "chat_template");
    if (json_is_array(t)) {
        size_t i;
        json_t *e, *pick = NULL;
        json_array_foreach(t, i, e) {
            const json_t *nm = json_object_get(e, "name");
            if (!pick || (json_is_string(nm) && strcmp(json_string_value(nm), "default") == 0)) pick = e;
        }
        t = pick ? json_object_get(pick, "template") : NULL;
    }
    int rc = LC_OK;
    if (json_is_string(t) && !(*out = strdup(json_string_value(t)))) rc = lc_fail(LC_ERR_NOMEM, "no memory");
    json_decref(cfg);
    return rc;
}

/* "<special text>" of tokenizer_config.json's key (string or {"content": ...}), or NULL */
static char *config_token(const char *cfg_path, const char *key) {
    json_t *cfg = json_load_file(cfg_path, 0, NULL);
    const json_t *t = json_object_get(cfg, key);
    if (json_is_object(t)) t = json_object_get(t, "content");
    char *s = json_is_string(t) ? strdup(json_string_value(t)) : NULL;
    json_decref(cfg);
    return s;
}

typedef struct tok_ids { int64_t bos, eos, eot, eom; } tok_ids;

static int put_tokenizer(lc_gguf_writer *w, const cv_vocab *v, const tok_ids *ids, const char *chat_template) {
    int rc;
    if ((rc = lc_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", 4)) ||
        (rc = lc_gguf_set_str(w, "tokenizer.ggml.pre", "llama-bpe", 9)) ||
        (rc = lc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", v->tok, (uint64_t)v->n)) ||
        (rc = lc_gguf_set_arr(w, "tokenizer.ggml.token_type", LC_GGUF_I32, v->type, (uint64_t)v->n)) ||
        (rc = lc_gguf_set_arr_str(w, "tokenizer.ggml.merges", v->merge, (uint64_t)v->n_merges)))
        return rc;
    static const char *const keys[4] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                         "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    const int64_t vals[4] = { ids->bos, ids->eos, ids->eot, ids->eom };
    for (int i = 0; i < 4; i++)
        if (vals[i] >= 0 && vals[i] < v->n && (rc = lc_gguf_set_u32(w, keys[i], (uint32_t)vals[i]))) return rc;
    if ((rc = lc_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true))) return rc;
    if (chat_template && (rc = lc_gguf_set_str(w, "tokenizer.chat_template", chat_template, strlen(chat_template))))
        return rc;
    return LC_OK;
}

/* ---- llama.* hyper-parameters -------------------------------------------------- */
typedef struct cv_hparams {
    const char *name, *size_label;
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, n_vocab, n_ctx;
    float eps, theta;
} cv_hparams;

static int put_llama_kv(lc_gguf_writer *w, const cv_hparams *h, int ftype) {
    int rc;
    if ((rc = lc_gguf_set_str(w, "general.architecture", "llama", 5)) ||
        (rc = lc_gguf_set_str(w, "general.type", "model", 5)) ||
        (rc = lc_gguf_set_str(w, "general.name", h->name, strlen(h->name))))
        return rc;
    if (h->size_label && (rc = lc_gguf_set_str(w, "general.size_label", h->size_label, strlen(h->size_label))))
        return rc;
    if ((rc = lc_gguf_set_u32(w, "llama.block_count", (uint32_t)h->n_layers)) ||
        (rc = lc_gguf_set_u32(w, "llama.context_length", (uint32_t)h->n_ctx)) ||
        (rc = lc_gguf_set_u32(w, "llama.embedding_length", (uint32_t)h->dim)) ||
        (rc = lc_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)h->ffn_dim)) ||
        (rc = lc_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)h->n_heads)) ||
        (rc = lc_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)h->n_kv_heads)) ||
        (rc = lc_gguf_set_f32(w, "llama.rope.freq_base", h->theta)) ||
        (rc = lc_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", h->eps)) ||
        (rc = lc_gguf_set_u32(w, "llama.attention.key_length", (uint32_t)h->head_dim)) ||
        (rc = lc_gguf_set_u32(w, "llama.attention.value_length", (uint32_t)h->head_dim)) ||
        (rc = lc_gguf_set_u32(w, "general.file_type", (uint32_t)ftype)) ||
        (rc = lc_gguf_set_u32(w, "llama.vocab_size", (uint32_t)h->n_vocab)) ||
        (rc = lc_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)h->head_dim)))
        return rc;
    return LC_OK;
}

static int put_trailer_kv(lc_gguf_writer *w) {
    int rc = lc_gguf_set_u32(w, "general.quantization_version", 2);
    if (!rc) rc = lc_gguf_set_u32(w, "general.alignment", 32);
    return rc;
}

static void log_plan(FILE *log, const cv_plan *p) {
    if (!log) return;
    size_t total = 0;
    for (int i = 0; i < p->n; i++) {
        const cv_out *t = &p->t[i];
        char shape[64];
        int o = snprintf(shape, sizeof shape, "{%lld", (long long)t->ne[0]);
        for (int d = 1; d < t->n_dims && o < (int)sizeof shape; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, ", %lld", (long long)t->ne[d]);
        if (o < (int)sizeof shape) snprintf(shape + o, sizeof shape - (size_t)o, "}");
        const char *from = t->kind == SRC_TENSOR   ? lc_type_name(t->src->type)
                           : t->kind == SRC_RANDOM ? "random"
                                                   : "F32";
        size_t bytes = t->row_bytes * (size_t)t->rows;
        total += bytes;
        fprintf(log, "[%4d/%4d] %-28s %-18s %6s -> %-5s %9.2f MiB%s\n", i + 1, p->n, t->name, shape, from,
                lc_type_name(t->type), bytes / 1048576.0, t->perm_hd ? "  (q/k rows un-permuted)" : "");
    }
    fprintf(log, "total %.2f MiB in %d tensors\n", total / 1048576.0, p->n);
    fflush(log);
}

/* ---- make-model ------------------------------------------------------------------ */
typedef struct shape_def {
    const char *name, *title, *size_label;
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, n_vocab; /* n_vocab 0: the tokenizer's */
    bool tied;
    float rope_factor;
} shape_def;

/* spec/model.md section 3; rope factor 32 for 3.2 1B/3B as in their HF configs */
static const shape_def shapes[] = {
    { "tiny", "Llama 3 tiny", "tiny", 256, 2, 4, 2, 64, 768, 0, true, 8 },
    { "1b", "Llama 3.2 1B", "1B", 2048, 16, 32, 8, 64, 8192, 128256, true, 32 },
    { "3b", "Llama 3.2 3B", "3B", 3072, 28, 24, 8, 128, 8192, 128256, true, 32 },
    { "8b", "Llama 3.1 8B", "8B", 4096, 32, 32, 8, 128, 14336, 128256, false, 8 },
    { "70b", "Llama 3.1 70B", "70B", 8192, 80, 64, 8, 128, 28672, 128256, false, 8 },
};

void lc_make_model_params_default(lc_make_model_params *p) {
    memset(p, 0, sizeof *p);
    p->shape = "tiny";
    p->type = "f16";
    p->seed = 42;
    p->n_threads = 2;
}

/* the default tokenizer.json (shared data), or NULL */
static char *default_tokenizer(void) {
    const char *root = getenv("LC_SHARED");
    char *path = NULL;
    if (root && *root) {
        if (asprintf(&path, "%s/data/tokenizer/tokenizer.json", root) < 0) return NULL;
        if (lc_file_exists(path)) return path;
        free(path);
        path = NULL;
    }
    const char *rel = "../shared/data/tokenizer/tokenizer.json";
    if (lc_file_exists(rel)) path = strdup(rel);
    return path;
}

/* chat template for make-model: the given file, else chat_template.jinja or
 * tokenizer_config.json next to the tokenizer */
static int load_template(const char *given, const char *tok_path, char **out) {
    *out = NULL;
    if (given) {
        int rc = lc_read_file(given, out, NULL, MAX_TEMPLATE);
        return rc ? lc_fail_prefix(rc, given) : LC_OK;
    }
    const char *slash = strrchr(tok_path, '/');
    int dl = slash ? (int)(slash - tok_path) : 1;
    const char *dir = slash ? tok_path : ".";
    char path[4096];
    snprintf(path, sizeof path, "%.*s/chat_template.jinja", dl, dir);
    if (lc_file_exists(path)) {
        int rc = lc_read_file(path, out, NULL, MAX_TEMPLATE);
        return rc ? lc_fail_prefix(rc, path) : LC_OK;
    }
    snprintf(path, sizeof path, "%.*s/tokenizer_config.json", dl, dir);
    if (lc_file_exists(path)) return template_from_config(path, out);
    return LC_OK;
}

static int add_random(cv_plan *p, const char *name, int type, int n_dims, int64_t ne0, int64_t ne1, float mean,
                      float std) {
    int64_t ne[2] = { ne0, ne1 };
    cv_out *t = plan_add(p, name, n_dims, ne);
    if (!t) return lc_fail(LC_ERR_NOMEM, "no memory");
    t->kind = SRC_RANDOM;
    t->type = type;
    t->mean = mean;
    t->std = std;
    return LC_OK;
}

int lc_make_model(const char *path, const lc_make_model_params *prm) {
    lc_make_model_params defaults;
    if (!prm) {
        lc_make_model_params_default(&defaults);
        prm = &defaults;
    }
    if (!path || !*path) return lc_fail(LC_ERR_ARG, "make-model: no output path");
    const shape_def *sh = NULL;
    for (size_t i = 0; prm->shape && i < LC_ARRAY_LEN(shapes); i++)
        if (strcasecmp(prm->shape, shapes[i].name) == 0) sh = &shapes[i];
    if (!sh)
        return lc_fail(LC_ERR_ARG, "make-model: unknown shape '%s' (expected tiny, 1b, 3b, 8b or 70b)",
                       prm->shape ? prm->shape : "(null)");
    int ftype;
    /* make-model's "q4_k" is the Q4_K_M mix, the file people benchmark */
    if (prm->type && strcasecmp(prm->type, "q4_k") == 0) ftype = LC_FTYPE_Q4_K_M;
    else if (lc_ftype_parse(prm->type, &ftype)) return lc_fail_prefix(LC_ERR_ARG, "make-model");

    char *tok_path = prm->tokenizer ? strdup(prm->tokenizer) : default_tokenizer();
    if (!tok_path) {
        if (prm->tokenizer) return lc_fail(LC_ERR_NOMEM, "no memory");
        return lc_fail(LC_ERR_IO, "make-model: no tokenizer.json found (looked in $LC_SHARED/data/tokenizer and "
                                  "../shared/data/tokenizer); give one with the tokenizer option");
    }
    cv_vocab v = { 0 };
    cv_plan p = { 0 };
    lc_gguf_writer *w = NULL;
    char *tmpl = NULL;
    float *rope = NULL;
    int rc;
    if (!lc_file_exists(tok_path)) {
        rc = lc_fail(LC_ERR_IO, "make-model: tokenizer %s does not exist", tok_path);
        goto done;
    }
    if ((rc = vocab_load(tok_path, sh->n_vocab, &v))) goto done;
    if (sh->n_vocab && v.n > sh->n_vocab) {
        rc = lc_fail(LC_ERR_FORMAT, "make-model: %s has %lld tokens, more than the %d of shape %s", tok_path,
                     (long long)v.n, sh->n_vocab, sh->name);
        goto done;
    }
    if ((rc = load_template(prm->chat_template, tok_path, &tmpl))) goto done;
    if (!tmpl) logf_(prm->log, "make-model: no chat template found next to %s; the file has none\n", tok_path);

    cv_hparams hp = { 0 };
    char title[128];
    snprintf(title, sizeof title, "%s (random weights, seed %llu)", sh->title, (unsigned long long)prm->seed);
    hp.name = title;
    hp.size_label = sh->size_label;
    hp.dim = sh->dim;
    hp.n_layers = sh->n_layers;
    hp.n_heads = sh->n_heads;
    hp.n_kv_heads = sh->n_kv_heads;
    hp.head_dim = sh->head_dim;
    hp.ffn_dim = sh->ffn_dim;
    hp.n_vocab = (int)v.n;
    hp.n_ctx = 131072;
    hp.eps = 1e-5f;
    hp.theta = 500000.0f;

    tok_ids ids = { vocab_find(&v, "<|begin_of_text|>"), vocab_find(&v, "<|eot_id|>"), vocab_find(&v, "<|eot_id|>"),
                    vocab_find(&v, "<|eom_id|>") };
    if (ids.eos < 0) ids.eos = vocab_find(&v, "<|end_of_text|>");

    if ((rc = lc_gguf_writer_new(&w))) goto done;
    if ((rc = put_llama_kv(w, &hp, ftype)) || (rc = put_tokenizer(w, &v, &ids, tmpl)) || (rc = put_trailer_kv(w)))
        goto done;

    /* tensors */
    int64_t dim = hp.dim, qd = (int64_t)hp.n_heads * hp.head_dim, kvd = (int64_t)hp.n_kv_heads * hp.head_dim,
            ffn = hp.ffn_dim, nv = hp.n_vocab;
    type_ctx tc = { ftype, !sh->tied, hp.n_layers, hp.n_layers, prm->log };
    float s_dim = 1 / sqrtf((float)dim);
    if ((rc = add_random(&p, "token_embd.weight", pick_type(&tc, "token_embd.weight", dim, nv), 2, dim, nv, 0, s_dim)))
        goto done;
    if (!sh->tied &&
        (rc = add_random(&p, "output.weight", pick_type(&tc, "output.weight", dim, nv), 2, dim, nv, 0, s_dim)))
        goto done;
    if ((rc = add_random(&p, "output_norm.weight", LC_TYPE_F32, 1, dim, 1, 1, 0.05f))) goto done;
    int half = hp.head_dim / 2;
    if (!(rope = malloc((size_t)half * sizeof *rope))) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    lc_rope_llama3_freqs(rope, hp.head_dim, hp.theta, sh->rope_factor, 1, 4, 8192);
    int64_t hne = half;
    cv_out *rt = plan_add(&p, "rope_freqs.weight", 1, &hne);
    if (!rt) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    rt->kind = SRC_VALUES;
    rt->type = LC_TYPE_F32;
    rt->values = rope;
    for (int l = 0; l < hp.n_layers && !rc; l++) {
        const struct { const char *nm; int n_dims; int64_t ne0, ne1; float mean, std; } L[] = {
            { "attn_norm", 1, dim, 1, 1, 0.05f },
            { "attn_q", 2, dim, qd, 0, s_dim },
            { "attn_k", 2, dim, kvd, 0, s_dim },
            { "attn_v", 2, dim, kvd, 0, s_dim },
            { "attn_output", 2, qd, dim, 0, 1 / sqrtf((float)qd) },
            { "ffn_norm", 1, dim, 1, 1, 0.05f },
            { "ffn_gate", 2, dim, ffn, 0, s_dim },
            { "ffn_up", 2, dim, ffn, 0, s_dim },
            { "ffn_down", 2, ffn, dim, 0, 1 / sqrtf((float)ffn) },
        };
        for (size_t i = 0; i < LC_ARRAY_LEN(L) && !rc; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, L[i].nm);
            int type = L[i].n_dims == 1 ? LC_TYPE_F32 : pick_type(&tc, name, L[i].ne0, L[i].ne1);
            rc = add_random(&p, name, type, L[i].n_dims, L[i].ne0, L[i].ne1, L[i].mean, L[i].std);
        }
    }
    if (rc) goto done;
    p.seed = prm->seed;
    p.abort = prm->abort;
    if ((rc = plan_start(&p, w, prm->n_threads))) goto done;
    logf_(prm->log, "make-model: %s, %s, vocab %lld (%s), %s\n", sh->title, lc_ftype_name(ftype), (long long)v.n,
          tok_path, tmpl ? "with chat template" : "no chat template");
    log_plan(prm->log, &p);
    vocab_free(&v);   /* the writer holds copies of the strings */
    rc = lc_gguf_write(w, path, fill, &p, prm->progress, prm->progress_ud);
    if (rc == LC_OK) logf_(prm->log, "wrote %s\n", path);
    else lc_fail_prefix(rc, "make-model");
done:
    plan_free(&p);
    lc_gguf_writer_free(w);
    vocab_free(&v);
    free(rope);
    free(tmpl);
    free(tok_path);
    return rc;
}

/* ---- quantize ------------------------------------------------------------------- */
void lc_quantize_params_default(lc_quantize_params *p) {
    memset(p, 0, sizeof *p);
    p->n_threads = 2;
}

/* type of one output tensor from its source: 1-D and other non-weights stay (F32 for float
 * sources), matrices get pick_type; refuses to requantize unless allowed */
static int out_type(const type_ctx *c, const lc_quantize_params *prm, const lc_tensor *s, const char *name,
                    int *type) {
    if (!quantizable(name, s->n_dims)) {
        *type = is_float(s->type) ? LC_TYPE_F32 : s->type;
        return LC_OK;
    }
    int t = pick_type(c, name, s->ne[0], s->ne[1]);
    if (s->type != t) {
        if (!lc_type_supported(s->type))
            return lc_fail(LC_ERR_UNSUPPORTED, "tensor '%s' has type %s, which cannot be converted", name,
                           lc_type_name(s->type));
        if (is_quant(s->type) && is_quant(t)) {
            if (!prm->allow_requantize)
                return lc_fail(LC_ERR_UNSUPPORTED,
                               "tensor '%s' is already quantized (%s): requantizing to %s loses precision; convert "
                               "from an F32/F16/BF16 file, or allow requantizing (--allow-requantize)",
                               name, lc_type_name(s->type), lc_type_name(t));
            logf_(prm->log, "  warning: %s is %s: dequantizing and requantizing to %s\n", name,
                  lc_type_name(s->type), lc_type_name(t));
        }
    }
    *type = t;
    return LC_OK;
}

/* one tensor of the input, copied or converted to the type the rules give it */
static int plan_source(cv_plan *p, const type_ctx *tc, const lc_quantize_params *prm, const char *in,
                       const lc_tensor *s, cv_out **out) {
    if (strlen(s->name) >= sizeof p->t[0].name)
        return lc_fail(LC_ERR_FORMAT, "%s: tensor name '%.40s...' too long", in, s->name);
    int type = 0, rc;
    if ((rc = out_type(tc, prm, s, s->name, &type))) return rc;
    cv_out *t = plan_add(p, s->name, s->n_dims, s->ne);
    if (!t) return lc_fail(LC_ERR_NOMEM, "no memory");
    t->kind = SRC_TENSOR;
    t->src = s;
    t->type = type;
    *out = t;
    return LC_OK;
}


static int quantize_gguf(const char *in, const char *out, int ftype, const lc_quantize_params *prm) {
    lc_gguf g;
    int rc = lc_gguf_open(in, &g);
    if (rc) return lc_fail_prefix(rc, in);
    cv_plan p = { 0 };
    lc_gguf_writer *w = NULL;
    if ((rc = lc_gguf_writer_new(&w))) goto done;
    /* metadata: every key but the ones that describe the old file's layout */
    for (int64_t i = 0; i < g.n_kv; i++) {
        const char *k = g.kv[i].key;
        if (strcmp(k, "general.alignment") == 0 || strncmp(k, "split.", 6) == 0) continue;
        if ((rc = lc_gguf_copy_kv(w, &g.kv[i]))) goto done;
    }
    if ((rc = lc_gguf_set_u32(w, "general.file_type", (uint32_t)ftype)) || (rc = put_trailer_kv(w))) goto done;
    type_ctx tc = { ftype, lc_gguf_tensor(&g, "output.weight") != NULL, 0, 0, prm->log };
    int max_layer = -1;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        if (strstr(g.tensors[i].name, "attn_v.weight")) tc.n_attn_v++;
        max_layer = LC_MAX(max_layer, layer_of(g.tensors[i].name));
    }
    tc.n_layer = max_layer + 1;
    lc_str arch;
    if (lc_gguf_get_str(&g, "general.architecture", &arch) == LC_OK && arch.len < 64) {
        char key[96];
        int64_t nl;
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.p);
        if (lc_gguf_get_int(&g, key, &nl) == LC_OK && nl > 0 && nl < (1 << 20)) tc.n_layer = (int)nl;
    }
    logf_(prm->log, "quantize: %s -> %s (%s)\n", in, out, lc_ftype_name(ftype));
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const lc_tensor *s = &g.tensors[i];
        cv_out *t;
        if ((rc = plan_source(&p, &tc, prm, in, s, &t))) goto done;
    }
    p.abort = prm->abort;
    if ((rc = plan_start(&p, w, prm->n_threads))) goto done;
    log_plan(prm->log, &p);
    rc = lc_gguf_write(w, out, fill, &p, prm->progress, prm->progress_ud);
done:
    plan_free(&p);
    lc_gguf_writer_free(w);
    lc_gguf_close(&g);
    return rc;
}

static char *join_path(const char *dir, const char *file) {
    char *s = NULL;
    return asprintf(&s, "%s/%s", dir, file) < 0 ? NULL : s;
}

static int quantize_hf(const char *in, const char *out, int ftype, const lc_quantize_params *prm) {
    lc_hf h;
    int rc = lc_hf_open(in, &h);
    if (rc) return lc_fail_prefix(rc, in);
    const lc_model_info *hi = &h.hp;
    cv_plan p = { 0 };
    cv_vocab v = { 0 };
    lc_gguf_writer *w = NULL;
    char *cfg = NULL, *eos_text = NULL, *bos_text = NULL;
    cv_hparams hp = { .name = hi->name, .dim = hi->dim, .n_layers = hi->n_layers, .n_heads = hi->n_heads,
                      .n_kv_heads = hi->n_kv_heads, .head_dim = hi->head_dim, .ffn_dim = hi->ffn_dim,
                      .n_vocab = hi->n_vocab, .n_ctx = hi->n_ctx_train, .eps = hi->norm_eps, .theta = hi->rope_theta };
    if ((rc = lc_gguf_writer_new(&w)) || (rc = put_llama_kv(w, &hp, ftype))) goto done;
    /* tokenizer */
    if (h.tokenizer_path && ends_with(h.tokenizer_path, ".json")) {
        if ((rc = vocab_load(h.tokenizer_path, hi->n_vocab, &v))) goto done;
        if (v.n > hi->n_vocab) {
            rc = lc_fail(LC_ERR_FORMAT, "%s: tokenizer has %lld tokens but vocab_size is %d", in, (long long)v.n,
                         hi->n_vocab);
            goto done;
        }
        tok_ids ids = { hi->bos_id, h.n_eos ? h.eos_ids[0] : -1, vocab_find(&v, "<|eot_id|>"),
                        vocab_find(&v, "<|eom_id|>") };
        /* like llama.cpp's converter: tokenizer_config.json's bos/eos text wins over config.json */
        if (!(cfg = join_path(in, "tokenizer_config.json"))) {
            rc = lc_fail(LC_ERR_NOMEM, "no memory");
            goto done;
        }
        if (lc_file_exists(cfg)) {
            bos_text = config_token(cfg, "bos_token");
            eos_text = config_token(cfg, "eos_token");
            if (bos_text && vocab_find(&v, bos_text) >= 0) ids.bos = vocab_find(&v, bos_text);
            if (eos_text && vocab_find(&v, eos_text) >= 0) ids.eos = vocab_find(&v, eos_text);
        }
        if (ids.bos < 0) ids.bos = vocab_find(&v, "<|begin_of_text|>");
        if (ids.eos < 0) ids.eos = vocab_find(&v, "<|end_of_text|>");
        if ((rc = put_tokenizer(w, &v, &ids, h.chat_template))) goto done;
    } else {
        logf_(prm->log, "quantize: %s has no tokenizer.json: the GGUF gets no tokenizer section\n", in);
    }
    if ((rc = put_trailer_kv(w))) goto done;
    /* tensors: HF names are already GGUF names; q/k rows go back to Meta order */
    type_ctx tc = { ftype, false, hi->n_layers, 0, prm->log };
    for (int64_t i = 0; i < h.n_tensors; i++) {
        if (strcmp(h.tensors[i].name, "output.weight") == 0) tc.has_output = true;
        if (strstr(h.tensors[i].name, "attn_v.weight")) tc.n_attn_v++;
    }
    logf_(prm->log, "quantize: %s -> %s (%s)\n", in, out, lc_ftype_name(ftype));
    for (int64_t i = 0; i < h.n_tensors; i++) {
        const lc_tensor *s = &h.tensors[i];
        cv_out *t;
        if ((rc = plan_source(&p, &tc, prm, in, s, &t))) goto done;
        int heads = strstr(s->name, ".attn_q.weight")   ? hi->n_heads
                    : strstr(s->name, ".attn_k.weight") ? hi->n_kv_heads
                                                        : 0;
        if (heads) {
            if (s->n_dims != 2 || s->ne[1] != (int64_t)heads * hi->head_dim) {
                rc = lc_fail(LC_ERR_FORMAT, "%s: tensor '%s' has %lld rows, expected %d heads x %d", in, s->name,
                             (long long)s->ne[1], heads, hi->head_dim);
                goto done;
            }
            t->perm_hd = hi->head_dim;
        }
    }
    if (h.rope_freqs) {
        int64_t half = hi->head_dim / 2;
        cv_out *t = plan_add(&p, "rope_freqs.weight", 1, &half);
        if (!t) {
            rc = lc_fail(LC_ERR_NOMEM, "no memory");
            goto done;
        }
        t->kind = SRC_VALUES;
        t->type = LC_TYPE_F32;
        t->values = h.rope_freqs;
    }
    p.abort = prm->abort;
    if ((rc = plan_start(&p, w, prm->n_threads))) goto done;
    log_plan(prm->log, &p);
    vocab_free(&v);
    rc = lc_gguf_write(w, out, fill, &p, prm->progress, prm->progress_ud);
done:
    plan_free(&p);
    vocab_free(&v);
    lc_gguf_writer_free(w);
    lc_hf_close(&h);
    free(cfg);
    free(eos_text);
    free(bos_text);
    return rc;
}

int lc_quantize(const char *in, const char *out, const char *type, const lc_quantize_params *prm) {
    lc_quantize_params defaults;
    if (!prm) {
        lc_quantize_params_default(&defaults);
        prm = &defaults;
    }
    int ftype, rc;
    if ((rc = lc_ftype_parse(type, &ftype))) return lc_fail_prefix(rc, "quantize");
    if (!in || !*in || !out || !*out) return lc_fail(LC_ERR_ARG, "quantize: input and output paths are required");
    if (!lc_file_exists(in) && !lc_is_dir(in)) return lc_fail(LC_ERR_IO, "quantize: %s does not exist", in);
    rc = lc_is_dir(in) ? quantize_hf(in, out, ftype, prm) : quantize_gguf(in, out, ftype, prm);
    if (rc == LC_OK) logf_(prm->log, "wrote %s\n", out);
    return rc;
}
