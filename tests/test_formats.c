/* test_formats.c - GGUF and Hugging Face folder readers: the shared vector files open with
 * the right keys, tensors and hyper-parameters; llama3 RoPE divisors match the spec; sharded
 * folders; and hostile files (truncated, flipped, crafted) give an error, never a crash. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const cases[] = { "tiny", "tied", "mha", "scaled", "quant" };

/* ---- small helpers ------------------------------------------------------- */
static uint8_t *slurp(const char *path, size_t *n) {
    char *buf;
    if (lc_read_file(path, &buf, n, (size_t)64 << 20) != LC_OK) return NULL;
    return (uint8_t *)buf;
}

static bool write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static bool write_text(const char *path, const char *s) { return write_file(path, s, strlen(s)); }

static bool str_eq(lc_str s, const char *z) { return s.len == strlen(z) && memcmp(s.p, z, s.len) == 0; }

/* growable byte buffer for crafted files */
typedef struct buf { uint8_t *p; size_t n, cap; } buf;
static void put(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_zeros(buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) put(b, "", 1);
}
static void pad_to(buf *b, size_t a) { put_zeros(b, (a - b->n % a) % a); }
static void gb_head(buf *b, uint32_t ver, uint64_t n_t, uint64_t n_kv) {
    put_u32(b, 0x46554747u);
    put_u32(b, ver);
    put_u64(b, n_t);
    put_u64(b, n_kv);
}
static void gb_kv_u32(buf *b, const char *k, uint32_t v) {
    put_str(b, k);
    put_u32(b, LC_GGUF_U32);
    put_u32(b, v);
}
static void gb_tensor(buf *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    put_str(b, name);
    put_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) put_u64(b, ne[i]);
    put_u32(b, type);
    put_u64(b, off);
}

/* parses c[0..n) in place (a malloc'd buffer of exactly n bytes, so ASan sees any over-read);
 * checks that every view stays inside */
static int parse_in(const uint8_t *c, size_t n, bool *views_ok) {
    lc_gguf g;
    int rc = lc_gguf_parse(c, n, &g);
    bool ok = true;
    if (rc == LC_OK) {
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const uint8_t *d = g.tensors[i].data;
            if (d < c || d + g.tensors[i].nbytes > c + n) ok = false;
        }
        for (int64_t i = 0; i < g.n_kv; i++)
            if (g.kv[i].val < c || g.kv[i].val + g.kv[i].val_size > c + n) ok = false;
    }
    lc_gguf_close(&g);
    if (views_ok) *views_ok = ok;
    return rc;
}

/* the same on a fresh copy of exactly n bytes */
static int parse_copy(const uint8_t *src, size_t n, bool *views_ok) {
    uint8_t *c = malloc(n ? n : 1);
    if (!c) return LC_ERR_NOMEM;
    if (n) memcpy(c, src, n);
    int rc = parse_in(c, n, views_ok);
    free(c);
    return rc;
}

/* ---- GGUF: shared vector files ------------------------------------------- */
static int file_type_of(const char *fname) {
    static const struct { const char *s; int t; } m[] = {
        { "f32", LC_TYPE_F32 }, { "f16", LC_TYPE_F16 }, { "bf16", LC_TYPE_BF16 }, { "q8_0", LC_TYPE_Q8_0 },
        { "q4_0", LC_TYPE_Q4_0 }, { "q4_1", LC_TYPE_Q4_1 }, { "q4_k", LC_TYPE_Q4_K }, { "q6_k", LC_TYPE_Q6_K },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(m); i++) {
        char want[32];
        snprintf(want, sizeof want, "model-%s.gguf", m[i].s);
        if (strcmp(fname, want) == 0) return m[i].t;
    }
    return -1;
}

static int check_tensor(const lc_gguf *g, const char *name, int type, int nd, int64_t ne0, int64_t ne1) {
    const lc_tensor *t = lc_gguf_tensor(g, name);
    CHECKF(t, "missing %s", name);
    CHECKF(t->type == type, "%s type %d want %d", name, t->type, type);
    CHECKF(t->n_dims == nd && t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1,
           "%s shape %lld x %lld", name, (long long)t->ne[0], (long long)t->ne[1]);
    size_t row;
    CHECK(lc_type_row_bytes(type, ne0, &row) && row * (size_t)ne1 == t->nbytes);
    CHECK((size_t)((const uint8_t *)t->data - g->map.data) % g->alignment == 0);
    return T_PASS;
}

static int64_t kv_int(const lc_gguf *g, const char *k) {
    int64_t v = -1;
    return lc_gguf_get_int(g, k, &v) == LC_OK ? v : -1;
}

static int check_gguf_file(const char *cs, const char *fname) {
    char rel[128];
    snprintf(rel, sizeof rel, "vectors/%s/%s", cs, fname);
    const char *path = t_shared(rel);
    if (!path) return T_SKIP;
    int ft = file_type_of(fname);
    CHECK(ft >= 0);
    lc_gguf g;
    int rc = lc_gguf_open(path, &g);
    CHECKF(rc == LC_OK, "%s: %s", rel, lc_last_error());
    bool tied = strcmp(cs, "tied") == 0, rope = strcmp(cs, "mha") != 0;
    lc_str s;
    int64_t L = kv_int(&g, "llama.block_count"), dim = kv_int(&g, "llama.embedding_length");
    int64_t nh = kv_int(&g, "llama.attention.head_count"), nkv = kv_int(&g, "llama.attention.head_count_kv");
    int64_t ffn = kv_int(&g, "llama.feed_forward_length"), vocab = kv_int(&g, "llama.vocab_size");
    int64_t hd = kv_int(&g, "llama.rope.dimension_count");
    int r = T_PASS;
#define G_CHECK(c) do { if (!(c)) { fprintf(stderr, "  %s: check failed: %s (line %d)\n", rel, #c, __LINE__); r = T_FAIL; goto out; } } while (0)
    G_CHECK(g.version == 3 && g.alignment == 32 && g.n_kv == 23);
    G_CHECK(lc_gguf_get_str(&g, "general.architecture", &s) == LC_OK && str_eq(s, "llama"));
    G_CHECK(L >= 2 && dim > 0 && nh > 0 && nkv > 0 && ffn > 0 && vocab > 0 && hd == dim / nh);
    G_CHECK(kv_int(&g, "general.quantization_version") == 2);
    G_CHECK(kv_int(&g, "tokenizer.ggml.bos_token_id") == vocab - 2);
    G_CHECK(kv_int(&g, "tokenizer.ggml.eos_token_id") == vocab - 1);
    G_CHECK(g.n_tensors == 2 + 9 * L + !tied + rope);
    double base, eps;
    G_CHECK(lc_gguf_get_float(&g, "llama.rope.freq_base", &base) == LC_OK && base == (rope ? 500000.0 : 10000.0));
    G_CHECK(lc_gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", &eps) == LC_OK && fabs(eps - 1e-5) < 1e-9);
    G_CHECK(lc_gguf_get_float(&g, "llama.block_count", &base) == LC_OK && base == (double)L);   /* int as float */
    /* getters: missing key -> 1, wrong type -> LC_ERR_FORMAT */
    int64_t iv;
    G_CHECK(lc_gguf_get_int(&g, "no.such.key", &iv) == 1);
    G_CHECK(lc_gguf_get_int(&g, "general.architecture", &iv) == LC_ERR_FORMAT);
    G_CHECK(lc_gguf_get_str(&g, "llama.block_count", &s) == LC_ERR_FORMAT);
    G_CHECK(lc_gguf_get_float(&g, "general.name", &base) == LC_ERR_FORMAT);
    {
        lc_str *toks = NULL;
        int64_t *tt = NULL;
        uint64_t n = 0, n2 = 0;
        float *fa = NULL;
        G_CHECK(lc_gguf_get_str_array(&g, "tokenizer.ggml.tokens", &toks, &n) == LC_OK);
        bool ok = n == (uint64_t)vocab && str_eq(toks[vocab - 2], "<|begin_of_text|>") &&
                  str_eq(toks[vocab - 1], "<|end_of_text|>");
        free(toks);
        G_CHECK(ok);
        G_CHECK(lc_gguf_get_int_array(&g, "tokenizer.ggml.token_type", &tt, &n2) == LC_OK);
        ok = n2 == (uint64_t)vocab && tt[0] == 1 && tt[vocab - 1] == 3;
        free(tt);
        G_CHECK(ok);
        G_CHECK(lc_gguf_get_float_array(&g, "tokenizer.ggml.token_type", &fa, &n2) == LC_OK);
        ok = n2 == (uint64_t)vocab && fa[vocab - 1] == 3.0f;
        free(fa);
        G_CHECK(ok);
        G_CHECK(lc_gguf_get_int_array(&g, "tokenizer.ggml.tokens", &tt, &n2) == LC_ERR_FORMAT && !tt);
        G_CHECK(lc_gguf_get_str_array(&g, "general.name", &toks, &n2) == LC_ERR_FORMAT);
        G_CHECK(lc_gguf_get_str_array(&g, "tokenizer.ggml.merges", &toks, &n2) == LC_OK && n2 > 0);
        free(toks);
    }
    G_CHECK(check_tensor(&g, "token_embd.weight", ft, 2, dim, vocab) == T_PASS);
    G_CHECK(check_tensor(&g, "output_norm.weight", LC_TYPE_F32, 1, dim, 1) == T_PASS);
    if (tied) G_CHECK(!lc_gguf_tensor(&g, "output.weight"));
    else G_CHECK(check_tensor(&g, "output.weight", ft, 2, dim, vocab) == T_PASS);
    if (rope) G_CHECK(check_tensor(&g, "rope_freqs.weight", LC_TYPE_F32, 1, hd / 2, 1) == T_PASS);
    else G_CHECK(!lc_gguf_tensor(&g, "rope_freqs.weight"));
    for (int64_t l = 0; l < L; l++) {
        char n[64];
#define T2(sfx, a, b) snprintf(n, sizeof n, "blk.%lld." sfx ".weight", (long long)l); G_CHECK(check_tensor(&g, n, ft, 2, a, b) == T_PASS)
        snprintf(n, sizeof n, "blk.%lld.attn_norm.weight", (long long)l);
        G_CHECK(check_tensor(&g, n, LC_TYPE_F32, 1, dim, 1) == T_PASS);
        snprintf(n, sizeof n, "blk.%lld.ffn_norm.weight", (long long)l);
        G_CHECK(check_tensor(&g, n, LC_TYPE_F32, 1, dim, 1) == T_PASS);
        T2("attn_q", dim, nh * hd);
        T2("attn_k", dim, nkv * hd);
        T2("attn_v", dim, nkv * hd);
        T2("attn_output", nh * hd, dim);
        T2("ffn_gate", dim, ffn);
        T2("ffn_up", dim, ffn);
        T2("ffn_down", ffn, dim);
#undef T2
    }
#undef G_CHECK
out:
    lc_gguf_close(&g);
    return r;
}

static int test_gguf_vectors(void) {
    static const char *const files[] = { "model-f32.gguf", "model-f16.gguf", "model-q8_0.gguf", "model-bf16.gguf",
                                         "model-q4_0.gguf", "model-q4_1.gguf", "model-q4_k.gguf", "model-q6_k.gguf" };
    if (!t_shared("vectors/tiny/model-f32.gguf")) return T_SKIP;
    int n = 0;
    for (size_t c = 0; c < LC_ARRAY_LEN(cases); c++)
        for (size_t f = 0; f < LC_ARRAY_LEN(files); f++) {
            char rel[128];
            snprintf(rel, sizeof rel, "vectors/%s/%s", cases[c], files[f]);
            if (!t_shared(rel)) continue;
            if (check_gguf_file(cases[c], files[f]) != T_PASS) return T_FAIL;
            n++;
        }
    CHECK(n == 20);
    return T_PASS;
}

static int test_gguf_close_zeroed(void) {
    lc_gguf g;
    memset(&g, 0, sizeof g);
    lc_gguf_close(&g);
    lc_gguf_close(NULL);
    CHECK(lc_gguf_open("/nonexistent/x.gguf", &g) == LC_ERR_IO);
    lc_gguf_close(&g);
    CHECK(lc_gguf_find(&g, "x") == NULL && lc_gguf_tensor(&g, "x") == NULL);
    lc_hf h;
    memset(&h, 0, sizeof h);
    lc_hf_close(&h);
    lc_hf_close(NULL);
    CHECK(lc_hf_open("/nonexistent", &h) == LC_ERR_IO);
    lc_hf_close(&h);
    return T_PASS;
}

/* ---- GGUF: crafted files ---------------------------------------------------- */
static int test_gguf_crafted(void) {
    buf b = { 0 };
    uint64_t ne[4] = { 32, 2, 1, 1 };
    int rc;
    /* v2, general.alignment 64, two tensors, nested arrays, every scalar type */
    gb_head(&b, 2, 2, 4);
    gb_kv_u32(&b, "general.alignment", 64);
    put_str(&b, "a.nested");
    put_u32(&b, LC_GGUF_ARR);
    put_u32(&b, LC_GGUF_ARR);
    put_u64(&b, 2);
    for (int i = 0; i < 2; i++) {
        put_u32(&b, LC_GGUF_STR);
        put_u64(&b, 1);
        put_str(&b, i ? "yy" : "x");
    }
    put_str(&b, "a.u64");
    put_u32(&b, LC_GGUF_U64);
    put_u64(&b, UINT64_MAX);
    put_str(&b, "a.i16s");
    put_u32(&b, LC_GGUF_ARR);
    put_u32(&b, LC_GGUF_I16);
    put_u64(&b, 3);
    int16_t i16[3] = { -5, 7, -32768 };
    put(&b, i16, sizeof i16);
    gb_tensor(&b, "w", 2, ne, LC_TYPE_Q8_0, 0);
    gb_tensor(&b, "n", 1, ne, LC_TYPE_F32, 128);
    pad_to(&b, 64);
    size_t ds = b.n;
    put_zeros(&b, 128 + 32 * 4);
    lc_gguf g;
    rc = lc_gguf_parse(b.p, b.n, &g);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    CHECK(g.version == 2 && g.alignment == 64 && g.data_start == ds && ds % 64 == 0);
    CHECK(g.tensors[0].nbytes == 68 && g.tensors[1].nbytes == 128 && g.tensors[1].data == b.p + ds + 128);
    const lc_gguf_kv *kv = lc_gguf_find(&g, "a.nested");
    CHECK(kv && kv->type == LC_GGUF_ARR && kv->arr_type == LC_GGUF_ARR && kv->arr_n == 2);
    int64_t iv, *ia;
    uint64_t n;
    CHECK(lc_gguf_get_int(&g, "a.u64", &iv) == LC_ERR_FORMAT);   /* does not fit int64 */
    double dv;
    CHECK(lc_gguf_get_float(&g, "a.u64", &dv) == LC_OK && dv > 1.8e19);
    CHECK(lc_gguf_get_int_array(&g, "a.i16s", &ia, &n) == LC_OK && n == 3 && ia[0] == -5 && ia[2] == -32768);
    free(ia);
    lc_str *sa;
    CHECK(lc_gguf_get_str_array(&g, "a.nested", &sa, &n) == LC_ERR_FORMAT);
    lc_gguf_close(&g);

    /* variations of one small valid file: f(kind) builds it with one thing changed */
    struct { const char *what; int want; } v[] = {
        { "ok", LC_OK }, { "align0", LC_ERR_FORMAT }, { "align3", LC_ERR_FORMAT }, { "align_str", LC_ERR_FORMAT },
        { "dupkey", LC_ERR_FORMAT }, { "duptensor", LC_ERR_FORMAT }, { "bool2", LC_ERR_FORMAT },
        { "type99", LC_ERR_FORMAT }, { "ne33", LC_ERR_FORMAT }, { "depth9", LC_ERR_FORMAT }, { "depth8", LC_OK },
        { "strs_huge", LC_ERR_FORMAT }, { "arrs_huge", LC_ERR_FORMAT }, { "u32s_huge", LC_ERR_FORMAT },
        { "ndims0", LC_ERR_FORMAT }, { "ndims5", LC_ERR_FORMAT }, { "ne0", LC_ERR_FORMAT },
        { "ne_overflow", LC_ERR_FORMAT }, { "off_misaligned", LC_ERR_FORMAT }, { "off_huge", LC_ERR_FORMAT },
        { "name65", LC_ERR_FORMAT }, { "name_empty", LC_ERR_FORMAT }, { "key_empty", LC_ERR_FORMAT },
        { "vtype13", LC_ERR_FORMAT }, { "version1", LC_ERR_FORMAT }, { "version4", LC_ERR_FORMAT },
        { "no_tensors", LC_OK }, { "q5k", LC_OK }, { "magic", LC_ERR_FORMAT }, { "ntensors_huge", LC_ERR_FORMAT },
        { "nkv_huge", LC_ERR_FORMAT },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(v); k++) {
        const char *w = v[k].what;
#define IS(s) (strcmp(w, s) == 0)
        b.n = 0;
        int nt = IS("no_tensors") ? 0 : IS("duptensor") ? 2 : 1;
        int nkv = IS("dupkey") ? 3 : 2;
        gb_head(&b, IS("version1") ? 1 : IS("version4") ? 4 : 3, IS("ntensors_huge") ? (1ull << 60) : (uint64_t)nt,
                IS("nkv_huge") ? (1ull << 62) : (uint64_t)nkv);
        if (IS("magic")) b.p[0] = 'X';
        if (IS("align0") || IS("align3")) gb_kv_u32(&b, "general.alignment", IS("align0") ? 0 : 3);
        else if (IS("align_str")) {
            put_str(&b, "general.alignment");
            put_u32(&b, LC_GGUF_STR);
            put_str(&b, "32");
        } else gb_kv_u32(&b, "general.file_type", 0);
        if (IS("dupkey")) gb_kv_u32(&b, "general.file_type", 1);
        put_str(&b, IS("key_empty") ? "" : "x.val");
        if (IS("bool2")) {
            put_u32(&b, LC_GGUF_BOOL);
            put(&b, "\2", 1);
        } else if (IS("depth9") || IS("depth8")) {
            int d = IS("depth9") ? 9 : 8;
            put_u32(&b, LC_GGUF_ARR);
            for (int i = 0; i < d; i++) {
                put_u32(&b, i + 1 < d ? LC_GGUF_ARR : LC_GGUF_U8);
                put_u64(&b, 1);
            }
            put(&b, "\1", 1);
        } else if (IS("strs_huge") || IS("arrs_huge") || IS("u32s_huge")) {
            put_u32(&b, LC_GGUF_ARR);
            put_u32(&b, IS("strs_huge") ? LC_GGUF_STR : IS("arrs_huge") ? LC_GGUF_ARR : LC_GGUF_U32);
            put_u64(&b, 1ull << 60);
            put_str(&b, "abc");
        } else {
            put_u32(&b, IS("vtype13") ? 13 : LC_GGUF_STR);
            put_str(&b, "hello");
        }
        uint64_t tne[5] = { IS("ne33") ? 33 : IS("ne0") ? 0 : 32, IS("ne_overflow") ? (1ull << 62) : 4, 1, 1, 1 };
        uint32_t nd = IS("ndims0") ? 0 : IS("ndims5") ? 5 : 2;
        uint32_t ty = IS("type99") ? 99 : IS("q5k") ? 13 : IS("ne33") ? LC_TYPE_Q8_0 : LC_TYPE_F32;
        if (IS("q5k")) tne[0] = 256;
        uint64_t off = IS("off_misaligned") ? 4 : IS("off_huge") ? (UINT64_MAX & ~31ull) : 0;
        const char *name = IS("name65") ? "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                           : IS("name_empty") ? "" : "t";
        if (nt >= 1) gb_tensor(&b, name, nd, tne, ty, off);
        if (nt >= 2) gb_tensor(&b, name, nd, tne, ty, 1024);
        pad_to(&b, 32);
        put_zeros(&b, 2048);
        rc = parse_copy(b.p, b.n, NULL);
        CHECKF(rc == v[k].want, "%s: rc %d (%s)", w, rc, lc_last_error());
        if (IS("type99")) CHECKF(strstr(lc_last_error(), "'t' has unknown type 99"), "%s", lc_last_error());
        if (IS("version4")) CHECKF(strstr(lc_last_error(), "unsupported version 4"), "%s", lc_last_error());
        if (IS("magic")) CHECKF(strstr(lc_last_error(), "bad magic"), "%s", lc_last_error());
        if (IS("off_huge")) CHECKF(strstr(lc_last_error(), "'t' ends past end of file"), "%s", lc_last_error());
        if (IS("strs_huge")) CHECKF(strstr(lc_last_error(), "truncated metadata value for key 'x.val'"), "%s",
                                   lc_last_error());
#undef IS
    }
    free(b.p);
    return T_PASS;
}

/* ---- GGUF: corruption of real files ------------------------------------------ */
enum { F_COUNT, F_STRLEN, F_VTYPE, F_NDIMS, F_NE, F_TTYPE, F_OFF, F_MAGIC, F_VERSION };
typedef struct field { size_t pos; int kind; } field;
typedef struct walker { const uint8_t *p; size_t n, pos; field *f; size_t nf, cap; } walker;

static void mark(walker *w, int kind) {
    if (w->nf == w->cap) {
        w->cap = w->cap * 2 + 256;
        w->f = realloc(w->f, w->cap * sizeof *w->f);
        if (!w->f) abort();
    }
    w->f[w->nf++] = (field){ w->pos, kind };
}
static uint64_t w64(walker *w) { uint64_t v; memcpy(&v, w->p + w->pos, 8); w->pos += 8; return v; }
static uint32_t w32(walker *w) { uint32_t v; memcpy(&v, w->p + w->pos, 4); w->pos += 4; return v; }
static void wstr(walker *w) { mark(w, F_STRLEN); w->pos += (size_t)w64(w); }
static void wval(walker *w, uint32_t t) {
    static const int sz[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    if (t == LC_GGUF_STR) wstr(w);
    else if (t == LC_GGUF_ARR) {
        mark(w, F_VTYPE);
        uint32_t et = w32(w);
        mark(w, F_COUNT);
        uint64_t n = w64(w);
        for (uint64_t i = 0; i < n; i++) wval(w, et);
    } else w->pos += (size_t)sz[t];
}
/* records where each field of a (valid) GGUF lies */
static void walk(walker *w) {
    mark(w, F_MAGIC);
    w->pos += 4;
    mark(w, F_VERSION);
    w->pos += 4;
    mark(w, F_COUNT);
    uint64_t nt = w64(w);
    mark(w, F_COUNT);
    uint64_t nkv = w64(w);
    for (uint64_t i = 0; i < nkv; i++) {
        wstr(w);
        mark(w, F_VTYPE);
        wval(w, w32(w));
    }
    for (uint64_t i = 0; i < nt; i++) {
        wstr(w);
        mark(w, F_NDIMS);
        uint32_t nd = w32(w);
        for (uint32_t d = 0; d < nd; d++) {
            mark(w, F_NE);
            w->pos += 8;
        }
        mark(w, F_TTYPE);
        w->pos += 4;
        mark(w, F_OFF);
        w->pos += 8;
    }
}

static int corrupt_gguf(const char *rel) {
    const char *path = t_shared(rel);
    if (!path) return T_SKIP;
    size_t n;
    uint8_t *src = slurp(path, &n);
    CHECK(src);
    lc_gguf g;
    CHECK(lc_gguf_parse(src, n, &g) == LC_OK);
    size_t ds = g.data_start, max_end = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        size_t e = (size_t)((const uint8_t *)g.tensors[i].data - src) + g.tensors[i].nbytes;
        if (e > max_end) max_end = e;
    }
    lc_gguf_close(&g);
    CHECK(max_end == n);   /* the last tensor ends the file, so any truncation must fail */
    /* truncation at every header offset and a sample of data offsets */
    for (size_t len = 0; len < n; len += len < ds + 64 ? 1 : n / 40 + 1) {
        int rc = parse_copy(src, len, NULL);
        CHECKF(rc != LC_OK, "%s truncated at %zu parsed", rel, len);
    }
    /* byte flips everywhere in the header: any result, views inside; inside data: LC_OK */
    uint8_t *m = malloc(n);
    CHECK(m);
    memcpy(m, src, n);
    static const uint8_t xs[] = { 0xFF, 0x01, 0x80 };
    for (size_t p = 0; p < ds; p++)
        for (size_t x = 0; x < LC_ARRAY_LEN(xs); x++) {
            m[p] ^= xs[x];
            bool ok;
            parse_in(m, n, &ok);
            m[p] ^= xs[x];
            CHECKF(ok, "%s: flip at %zu: view outside the buffer", rel, p);
        }
    for (size_t p = ds; p < n; p += 331) {
        m[p] ^= 0xFF;
        int rc = lc_gguf_parse(m, n, &g);
        lc_gguf_close(&g);
        m[p] ^= 0xFF;
        CHECKF(rc == LC_OK, "%s: flip in data at %zu failed: %s", rel, p, lc_last_error());
    }
    /* structured overwrites of every field */
    walker w = { src, n, 0, NULL, 0, 0 };
    walk(&w);
    CHECK(w.pos <= ds && ds - w.pos < 32);
    static const uint64_t big[] = { 0, 1, 2, 3, 4, 5, 31, 0xFFFFFFFFull, 1ull << 32, 1ull << 60, 1ull << 63, UINT64_MAX };
    int n_err = 0, n_mut = 0;
    for (size_t i = 0; i < w.nf; i++) {
        field f = w.f[i];
        bool is32 = f.kind == F_VTYPE || f.kind == F_NDIMS || f.kind == F_TTYPE || f.kind == F_MAGIC ||
                    f.kind == F_VERSION;
        uint64_t orig = 0;
        memcpy(&orig, src + f.pos, is32 ? 4 : 8);
        uint64_t vals[LC_ARRAY_LEN(big) + 4];
        size_t nv = 0;
        for (size_t j = 0; j < LC_ARRAY_LEN(big); j++) vals[nv++] = big[j];
        vals[nv++] = orig + 1;
        vals[nv++] = orig - 1;
        vals[nv++] = orig + 32;
        vals[nv++] = orig * 2;
        for (size_t j = 0; j < nv; j++) {
            uint64_t val = vals[j];
            if (val == orig) continue;
            memcpy(m, src, ds);
            if (is32) {
                uint32_t v32 = (uint32_t)val;
                if (v32 == (uint32_t)orig) continue;
                memcpy(m + f.pos, &v32, 4);
            } else memcpy(m + f.pos, &val, 8);
            bool ok;
            int rc = parse_in(m, n, &ok);
            CHECKF(ok, "%s: field at %zu = %llu: view outside", rel, f.pos, (unsigned long long)val);
            n_mut++;
            n_err += rc != LC_OK;
            /* these must always be rejected */
            bool must = f.kind == F_MAGIC || (f.kind == F_VERSION && val != 2) ||
                        (f.kind == F_NDIMS && (val == 0 || val > 4)) || (f.kind == F_NE && val == 0) ||
                        (f.kind == F_TTYPE && (uint32_t)val == 99) ||
                        (f.kind == F_OFF && (val % 32 != 0 || val >= n)) ||
                        (f.kind == F_COUNT && val >= (1ull << 32)) || (f.kind == F_STRLEN && val >= n);
            CHECKF(!must || rc != LC_OK, "%s: field kind %d at %zu = %llu was accepted", rel, f.kind, f.pos,
                   (unsigned long long)val);
        }
    }
    CHECK(n_err > n_mut / 2);
    free(w.f);
    free(m);
    free(src);
    return T_PASS;
}

static int test_gguf_corrupt_q8_0(void) { return corrupt_gguf("vectors/tiny/model-q8_0.gguf"); }
static int test_gguf_corrupt_q4_k(void) { return corrupt_gguf("vectors/quant/model-q4_k.gguf"); }

/* ---- RoPE -------------------------------------------------------------------- */
static bool rel_close(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b); }

static int test_rope_llama3_spec(void) {
    float d[64];
    lc_rope_llama3_freqs(d, 128, 500000.0f, 8.0f, 1.0f, 4.0f, 8192);
    for (int i = 0; i <= 28; i++) CHECK(d[i] == 1.0f);
    for (int i = 29; i <= 34; i++) CHECK(d[i] > 1.0f && d[i] < 8.0f);
    for (int i = 35; i < 64; i++) CHECK(d[i] == 8.0f);
    static const struct { int i; double before, after; } tv[] = {
        { 29, 2.616099e-3, 2.166571e-3 }, { 34, 9.384739e-4, 1.785078e-4 },
        { 35, 7.644970e-4, 9.556212e-5 }, { 63, 2.455141e-6, 3.068926e-7 },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(tv); k++) {
        double inv = pow(500000.0, -2.0 * tv[k].i / 128);
        CHECK(rel_close(inv, tv[k].before, 1e-6));
        CHECKF(rel_close(inv / d[tv[k].i], tv[k].after, 1e-6), "i=%d %.7e", tv[k].i, inv / d[tv[k].i]);
    }
    float e[32];
    lc_rope_llama3_freqs(e, 64, 500000.0f, 32.0f, 1.0f, 4.0f, 8192);
    for (int i = 0; i <= 14; i++) CHECK(e[i] == 1.0f);
    for (int i = 15; i <= 17; i++) CHECK(e[i] > 1.0f && e[i] < 32.0f);
    for (int i = 18; i < 32; i++) CHECK(e[i] == 32.0f);
    double inv15 = pow(500000.0, -30.0 / 64);
    CHECK(rel_close(inv15, 2.131120e-3, 1e-6) && rel_close(inv15 / e[15], 1.290548e-3, 1e-6));
    return T_PASS;
}

/* rope_freqs.weight of each GGUF = our divisors from config.json (via lc_hf_open) */
static int test_rope_vs_gguf(void) {
    if (!t_shared("vectors/tiny/config.json")) return T_SKIP;
    for (size_t c = 0; c < LC_ARRAY_LEN(cases); c++) {
        char rel[128], gpath[4096];
        snprintf(rel, sizeof rel, "vectors/%s/model-f32.gguf", cases[c]);
        snprintf(gpath, sizeof gpath, "%s", t_shared(rel));
        snprintf(rel, sizeof rel, "vectors/%s", cases[c]);
        lc_gguf g;
        lc_hf h;
        CHECK(lc_gguf_open(gpath, &g) == LC_OK);
        CHECKF(lc_hf_open(t_shared(rel), &h) == LC_OK, "%s", lc_last_error());
        const lc_tensor *t = lc_gguf_tensor(&g, "rope_freqs.weight");
        int r = T_PASS;
        if (!t) {
            if (h.rope_freqs || h.hp.rope_scaled) r = T_FAIL;
        } else if (!h.rope_freqs || t->ne[0] != h.hp.head_dim / 2) {
            r = T_FAIL;
        } else {
            for (int i = 0; i < h.hp.head_dim / 2; i++) {
                float gv;
                memcpy(&gv, (const uint8_t *)t->data + 4 * i, 4);
                if (!rel_close(h.rope_freqs[i], gv, 1e-6)) {
                    fprintf(stderr, "  %s rope_freqs[%d] = %.9g, gguf %.9g\n", cases[c], i, h.rope_freqs[i], gv);
                    r = T_FAIL;
                }
            }
        }
        lc_gguf_close(&g);
        lc_hf_close(&h);
        CHECKF(r == T_PASS, "case %s", cases[c]);
    }
    return T_PASS;
}

/* ---- Hugging Face folders ------------------------------------------------------- */
/* same tensors as the F32 GGUF: names, shapes; identical bytes except the permuted q/k */
static int compare_hf_gguf(const lc_hf *h, const lc_gguf *g) {
    CHECK(h->n_tensors + (g->n_tensors - h->n_tensors) == g->n_tensors);
    int64_t n_rope = lc_gguf_tensor(g, "rope_freqs.weight") ? 1 : 0;
    CHECKF(h->n_tensors == g->n_tensors - n_rope, "%lld vs %lld", (long long)h->n_tensors, (long long)g->n_tensors);
    for (int64_t i = 0; i < h->n_tensors; i++) {
        const lc_tensor *a = &h->tensors[i], *b = lc_gguf_tensor(g, a->name);
        CHECKF(b, "hf tensor %s not in gguf", a->name);
        CHECK(a->name == h->names[i]);
        CHECKF(a->type == LC_TYPE_F32 && a->n_dims == b->n_dims && a->nbytes == b->nbytes, "%s", a->name);
        for (int d = 0; d < 4; d++) CHECKF(a->ne[d] == b->ne[d], "%s ne[%d]", a->name, d);
        bool qk = strstr(a->name, "attn_q.") || strstr(a->name, "attn_k.");
        if (!qk) CHECKF(memcmp(a->data, b->data, a->nbytes) == 0, "%s data differs", a->name);
    }
    return T_PASS;
}

static int check_hf_case(const char *cs, const char *dir) {
    char rel[128];
    snprintf(rel, sizeof rel, "vectors/%s/model-f32.gguf", cs);
    lc_gguf g;
    lc_hf h;
    CHECK(lc_gguf_open(t_shared(rel), &g) == LC_OK);
    int rc = lc_hf_open(dir, &h);
    CHECKF(rc == LC_OK, "%s: %s", dir, lc_last_error());
    const lc_model_info *hp = &h.hp;
    int r = T_PASS;
    int64_t vocab = kv_int(&g, "llama.vocab_size");
    double eps = 0, theta = 0;
    lc_gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", &eps);
    lc_gguf_get_float(&g, "llama.rope.freq_base", &theta);
    bool tied = strcmp(cs, "tied") == 0, scaled = strcmp(cs, "mha") != 0;
    if (strcmp(hp->arch, "llama") || strcmp(hp->format, "safetensors") || hp->dim != kv_int(&g, "llama.embedding_length") ||
        hp->n_layers != kv_int(&g, "llama.block_count") || hp->n_heads != kv_int(&g, "llama.attention.head_count") ||
        hp->n_kv_heads != kv_int(&g, "llama.attention.head_count_kv") ||
        hp->head_dim != kv_int(&g, "llama.rope.dimension_count") ||
        hp->ffn_dim != kv_int(&g, "llama.feed_forward_length") || hp->n_vocab != vocab ||
        hp->n_ctx_train != kv_int(&g, "llama.context_length") || hp->norm_eps != (float)eps ||
        hp->rope_theta != (float)theta || hp->rope_neox != 1 || hp->tied_output != tied ||
        hp->rope_scaled != scaled || hp->bos_id != vocab - 2 || hp->eos_id != vocab - 1 || h.n_eos != 1 ||
        h.eos_ids[0] != vocab - 1 || (scaled && (hp->rope_factor != 8.0f || hp->rope_low_freq != 1.0f ||
                                                 hp->rope_high_freq != 4.0f)) ||
        (scaled != (h.rope_freqs != NULL)) || h.n_maps != 1) {
        fprintf(stderr, "  %s: hyper-parameters differ from the GGUF\n", cs);
        r = T_FAIL;
    }
    if (r == T_PASS) r = compare_hf_gguf(&h, &g);
    lc_gguf_close(&g);
    lc_hf_close(&h);
    return r;
}

static int test_hf_vectors(void) {
    if (!t_shared("vectors/tiny/config.json")) return T_SKIP;
    for (size_t c = 0; c < LC_ARRAY_LEN(cases); c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "vectors/%s", cases[c]);
        if (check_hf_case(cases[c], t_shared(rel)) != T_PASS) return T_FAIL;
    }
    /* name and original context of the scaled case */
    lc_hf h;
    CHECK(lc_hf_open(t_shared("vectors/scaled/"), &h) == LC_OK);
    bool ok = strcmp(h.hp.name, "scaled") == 0 && h.hp.rope_orig_ctx == 32 && !h.tokenizer_path &&
              !h.chat_template && !h.hp.has_chat_template;
    lc_hf_close(&h);
    CHECK(ok);
    return T_PASS;
}

/* makes dir with config.json (text) and links to the weights/extra files of a case */
static int make_folder(const char *dir, const char *config_text, const char *cs) {
    char p[4096], rel[128], *target = NULL;
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!write_text(p, config_text)) return -1;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    snprintf(rel, sizeof rel, "vectors/%s/model.safetensors", cs);
    unlink(p);
    if (!cs) return 0;
    if (!t_shared(rel) || !(target = realpath(t_shared(rel), NULL))) return -1;
    int rc = symlink(target, p);
    free(target);
    return rc;
}

static char *tiny_config(void) {
    size_t n;
    return (char *)slurp(t_shared("vectors/tiny/config.json"), &n);
}

/* writes one shard holding tensors [i0, i1) of ts (HF names) */
static bool write_shard(const char *path, const lc_tensor *ts, int64_t i0, int64_t i1) {
    static const char *const dn[] = { [LC_TYPE_F32] = "F32" };
    json_t *hdr = json_object();
    size_t off = 0;
    for (int64_t i = i0; i < i1; i++) {
        json_t *shape = json_array();
        for (int d = ts[i].n_dims - 1; d >= 0; d--) json_array_append_new(shape, json_integer(ts[i].ne[d]));
        json_object_set_new(hdr, ts[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", dn[ts[i].type], "shape", shape, "data_offsets",
                                      (json_int_t)off, (json_int_t)(off + ts[i].nbytes)));
        off += ts[i].nbytes;
    }
    json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"));
    char *js = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    buf b = { 0 };
    uint64_t hl = strlen(js);
    put_u64(&b, hl);
    put(&b, js, hl);
    free(js);
    for (int64_t i = i0; i < i1; i++) put(&b, ts[i].data, ts[i].nbytes);
    bool ok = write_file(path, b.p, b.n);
    free(b.p);
    return ok;
}

static int test_hf_sharded(void) {
    if (!t_shared("vectors/tiny/model.safetensors")) return T_SKIP;
    size_t n;
    uint8_t *st = slurp(t_shared("vectors/tiny/model.safetensors"), &n);
    CHECK(st);
    lc_tensor *ts;
    char **names;
    int64_t nt;
    CHECK(lc_safetensors_parse(st, n, &ts, &names, &nt) == LC_OK && nt == 21);
    char dir[512], p[1024];
    snprintf(dir, sizeof dir, "%s/sharded", t_tmpdir());
    char *cfg = tiny_config();
    CHECK(cfg && make_folder(dir, cfg, NULL) == 0);
    free(cfg);
    int64_t half = nt / 2;
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    CHECK(write_shard(p, ts, 0, half));
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    CHECK(write_shard(p, ts, half, nt));
    json_t *wm = json_object();
    for (int64_t i = 0; i < nt; i++)
        json_object_set_new(wm, names[i], json_string(i < half ? "model-00001-of-00002.safetensors"
                                                             : "model-00002-of-00002.safetensors"));
    json_t *idx = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", wm);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    CHECK(json_dump_file(idx, p, 0) == 0);
    lc_hf h, h1;
    int rc = lc_hf_open(dir, &h);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    CHECK(lc_hf_open(t_shared("vectors/tiny"), &h1) == LC_OK);
    int r = T_PASS;
    if (h.n_maps != 2 || h.n_tensors != h1.n_tensors || strcmp(h.hp.name, "sharded") != 0) r = T_FAIL;
    for (int64_t i = 0; r == T_PASS && i < h1.n_tensors; i++) {
        const lc_tensor *a = &h1.tensors[i], *b = NULL;
        for (int64_t j = 0; j < h.n_tensors; j++)
            if (strcmp(h.tensors[j].name, a->name) == 0) b = &h.tensors[j];
        if (!b || memcmp(a->ne, b->ne, sizeof a->ne) || a->nbytes != b->nbytes || memcmp(a->data, b->data, a->nbytes))
            r = T_FAIL;
    }
    lc_hf_close(&h);
    lc_hf_close(&h1);
    CHECK(r == T_PASS);
    /* broken indexes: missing tensor in its shard, path escape, missing shard, bad JSON */
    struct { const char *key, *file; int want; } bad[] = {
        { "model.layers.9.mlp.up_proj.weight", "model-00001-of-00002.safetensors", LC_ERR_FORMAT },
        { names[nt - 1], "model-00001-of-00002.safetensors", LC_ERR_FORMAT },   /* lives in shard 2 */
        { names[0], "../sharded/model-00001-of-00002.safetensors", LC_ERR_FORMAT },
        { names[0], "missing.safetensors", LC_ERR_IO },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(bad); k++) {
        json_t *copy = json_deep_copy(idx);
        json_object_set_new(json_object_get(copy, "weight_map"), bad[k].key, json_string(bad[k].file));
        CHECK(json_dump_file(copy, p, 0) == 0);
        json_decref(copy);
        rc = lc_hf_open(dir, &h);
        lc_hf_close(&h);
        CHECKF(rc == bad[k].want, "bad index %zu: rc %d %s", k, rc, lc_last_error());
    }
    CHECK(write_text(p, "{\"weight_map\": ["));
    CHECK(lc_hf_open(dir, &h) == LC_ERR_FORMAT);
    CHECK(strstr(lc_last_error(), "model.safetensors.index.json"));
    json_decref(idx);
    for (int64_t i = 0; i < nt; i++) free(names[i]);
    free(names);
    free(ts);
    free(st);
    return T_PASS;
}

/* config.json variants: set (or delete, when val is NULL) one key of the tiny config */
static int test_hf_config_variants(void) {
    if (!t_shared("vectors/tiny/config.json")) return T_SKIP;
    json_error_t err;
    json_t *base = json_load_file(t_shared("vectors/tiny/config.json"), 0, &err);
    CHECK(base);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cfg", t_tmpdir());
    struct { const char *key, *val; int want; } v[] = {
        { "hidden_size", NULL, LC_ERR_FORMAT },
        { "num_hidden_layers", NULL, LC_ERR_FORMAT },
        { "intermediate_size", NULL, LC_ERR_FORMAT },
        { "vocab_size", NULL, LC_ERR_FORMAT },
        { "num_attention_heads", NULL, LC_ERR_FORMAT },
        { "num_hidden_layers", "1000000000", LC_ERR_FORMAT },
        { "num_hidden_layers", "1e9", LC_ERR_FORMAT },
        { "num_hidden_layers", "2.0", LC_ERR_FORMAT },
        { "hidden_size", "-64", LC_ERR_FORMAT },
        { "hidden_size", "\"64\"", LC_ERR_FORMAT },
        { "hidden_size", "0", LC_ERR_FORMAT },
        { "vocab_size", "99999999999999999", LC_ERR_FORMAT },
        { "num_key_value_heads", "3", LC_ERR_FORMAT },
        { "num_key_value_heads", "8", LC_ERR_FORMAT },
        { "num_key_value_heads", "0", LC_ERR_FORMAT },
        { "head_dim", "15", LC_ERR_FORMAT },
        { "head_dim", "-16", LC_ERR_FORMAT },
        { "rms_norm_eps", "-1", LC_ERR_FORMAT },
        { "rms_norm_eps", "\"x\"", LC_ERR_FORMAT },
        { "rope_theta", "0", LC_ERR_FORMAT },
        { "rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", LC_ERR_UNSUPPORTED },
        { "rope_scaling", "{\"type\": \"linear\", \"factor\": 4.0}", LC_ERR_UNSUPPORTED },
        { "rope_scaling", "{\"rope_type\": \"llama3\"}", LC_ERR_FORMAT },
        { "rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, \"high_freq_factor\": 4}",
          LC_ERR_FORMAT },
        { "rope_scaling", "[1]", LC_ERR_FORMAT },
        { "rope_scaling", "{\"factor\": 8}", LC_ERR_FORMAT },
        { "model_type", "\"mistral\"", LC_ERR_UNSUPPORTED },
        { "tie_word_embeddings", "\"yes\"", LC_ERR_FORMAT },
        { "eos_token_id", "[511, 99999]", LC_ERR_FORMAT },
        { "eos_token_id", "\"x\"", LC_ERR_FORMAT },
        { "bos_token_id", "-3", LC_ERR_FORMAT },
        { "max_position_embeddings", "-1", LC_ERR_FORMAT },
        { "eos_token_id", "[511, 510]", LC_OK },
        { "eos_token_id", "null", LC_OK },
        { "head_dim", NULL, LC_OK },
        { "num_key_value_heads", NULL, LC_OK },
        { "rope_scaling", "null", LC_OK },
        { "rope_theta", NULL, LC_OK },
        { "max_position_embeddings", NULL, LC_OK },
        { "architectures", "[\"Foo\"]", LC_OK },   /* model_type llama is enough */
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(v); k++) {
        json_t *c = json_deep_copy(base);
        if (strcmp(v[k].key, "model_type") == 0) json_object_set_new(c, "architectures", json_pack("[s]", "MistralForCausalLM"));
        if (v[k].val) json_object_set_new(c, v[k].key, json_loads(v[k].val, JSON_DECODE_ANY, &err));
        else json_object_del(c, v[k].key);
        char *text = json_dumps(c, 0);
        json_decref(c);
        CHECK(text && make_folder(dir, text, "tiny") == 0);
        free(text);
        lc_hf h;
        int rc = lc_hf_open(dir, &h);
        CHECKF(rc == v[k].want, "%s = %s: rc %d (%s)", v[k].key, v[k].val ? v[k].val : "(deleted)", rc,
               rc ? lc_last_error() : "");
        if (rc != LC_OK) CHECKF(strncmp(lc_last_error(), "config.json: ", 13) == 0, "%s", lc_last_error());
        if (rc == LC_OK && strcmp(v[k].key, "eos_token_id") == 0 && v[k].val[0] == '[')
            CHECK(h.n_eos == 2 && h.eos_ids[1] == 510 && h.hp.eos_id == 511);
        if (rc == LC_OK && strcmp(v[k].key, "eos_token_id") == 0 && v[k].val[0] == 'n') CHECK(h.hp.eos_id == -1);
        if (rc == LC_OK && strcmp(v[k].key, "head_dim") == 0) CHECK(h.hp.head_dim == 16);
        if (rc == LC_OK && strcmp(v[k].key, "num_key_value_heads") == 0) CHECK(h.hp.n_kv_heads == 4);
        if (rc == LC_OK && strcmp(v[k].key, "rope_theta") == 0) CHECK(h.hp.rope_theta == 10000.0f);
        if (rc == LC_OK && strcmp(v[k].key, "rope_scaling") == 0) CHECK(!h.hp.rope_scaled && !h.rope_freqs);
        lc_hf_close(&h);
    }
    /* head count not dividing the dim when head_dim is absent */
    json_t *c = json_deep_copy(base);
    json_object_del(c, "head_dim");
    json_object_set_new(c, "num_attention_heads", json_integer(5));
    json_object_set_new(c, "num_key_value_heads", json_integer(5));
    char *text = json_dumps(c, 0);
    json_decref(c);
    CHECK(make_folder(dir, text, "tiny") == 0);
    free(text);
    lc_hf h;
    CHECK(lc_hf_open(dir, &h) == LC_ERR_FORMAT);
    /* rope_parameters (newer transformers) instead of rope_scaling + rope_theta */
    c = json_deep_copy(base);
    json_object_del(c, "rope_theta");
    json_object_set_new(c, "rope_parameters", json_deep_copy(json_object_get(c, "rope_scaling")));
    json_object_del(c, "rope_scaling");
    json_object_set_new(json_object_get(c, "rope_parameters"), "rope_theta", json_real(500000.0));
    text = json_dumps(c, 0);
    json_decref(c);
    CHECK(make_folder(dir, text, "tiny") == 0);
    free(text);
    CHECKF(lc_hf_open(dir, &h) == LC_OK, "%s", lc_last_error());
    lc_hf h1;
    CHECK(lc_hf_open(t_shared("vectors/tiny"), &h1) == LC_OK);
    bool same = h.hp.rope_theta == 500000.0f && h.hp.rope_scaled && h.rope_freqs &&
                memcmp(h.rope_freqs, h1.rope_freqs, (size_t)h.hp.head_dim / 2 * sizeof(float)) == 0;
    lc_hf_close(&h1);
    lc_hf_close(&h);
    CHECK(same);
    c = json_deep_copy(base);
    json_object_del(c, "rope_scaling");
    json_object_set_new(c, "rope_parameters", json_pack("{s:f}", "rope_theta", 250000.0));
    text = json_dumps(c, 0);
    json_decref(c);
    CHECK(make_folder(dir, text, "tiny") == 0);
    free(text);
    CHECKF(lc_hf_open(dir, &h) == LC_OK, "%s", lc_last_error());
    same = h.hp.rope_theta == 250000.0f && !h.hp.rope_scaled && !h.rope_freqs;
    lc_hf_close(&h);
    CHECK(same);
    /* tokenizer files, chat template */
    char p[1024];
    text = json_dumps(base, 0);
    CHECK(make_folder(dir, text, "tiny") == 0);
    free(text);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    CHECK(write_text(p, "{\"chat_template\": \"{{ x }}\"}"));
    snprintf(p, sizeof p, "%s/tokenizer.model", dir);
    CHECK(write_text(p, "x"));
    CHECK(lc_hf_open(dir, &h) == LC_OK);
    same = h.chat_template && strcmp(h.chat_template, "{{ x }}") == 0 && h.hp.has_chat_template && h.tokenizer_path &&
           strstr(h.tokenizer_path, "/tokenizer.model");
    lc_hf_close(&h);
    CHECK(same);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    CHECK(write_text(p, "{}"));
    CHECK(lc_hf_open(dir, &h) == LC_OK);
    same = h.tokenizer_path && strstr(h.tokenizer_path, "/tokenizer.json");
    lc_hf_close(&h);
    CHECK(same);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    CHECK(write_text(p, "{\"chat_template\": "));
    CHECK(lc_hf_open(dir, &h) == LC_ERR_FORMAT && strstr(lc_last_error(), "tokenizer_config.json"));
    unlink(p);
    /* config.json: not JSON, not an object, missing; no weights */
    snprintf(p, sizeof p, "%s/config.json", dir);
    CHECK(write_text(p, "{\"hidden_size\": 64,"));
    CHECK(lc_hf_open(dir, &h) == LC_ERR_FORMAT && strstr(lc_last_error(), "config.json"));
    CHECK(write_text(p, "[1, 2]"));
    CHECK(lc_hf_open(dir, &h) == LC_ERR_FORMAT);
    unlink(p);
    CHECK(lc_hf_open(dir, &h) == LC_ERR_IO && strstr(lc_last_error(), "config.json"));
    text = json_dumps(base, 0);
    CHECK(make_folder(dir, text, NULL) == 0);
    free(text);
    CHECK(lc_hf_open(dir, &h) == LC_ERR_IO);
    json_decref(base);
    return T_PASS;
}

/* ---- safetensors: crafted and corrupted buffers ------------------------------------ */
static uint8_t *make_st(const char *hdr, size_t data_len, size_t *n) {
    buf b = { 0 };
    put_u64(&b, strlen(hdr));
    put(&b, hdr, strlen(hdr));
    put_zeros(&b, data_len);
    *n = b.n;
    return b.p;
}

static int st_parse_copy(const uint8_t *src, size_t n, int64_t *nt) {
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, src, n);
    lc_tensor *ts;
    char **names;
    int64_t k = 0;
    int rc = lc_safetensors_parse(c, n, &ts, &names, &k);
    for (int64_t i = 0; i < k; i++) {
        if ((const uint8_t *)ts[i].data < c || (const uint8_t *)ts[i].data + ts[i].nbytes > c + n) rc = 99;
        free(names[i]);
    }
    if (rc == LC_OK || rc == 99) {
        free(names);
        free(ts);
    }
    free(c);
    if (nt) *nt = k;
    return rc;
}

static int test_safetensors_crafted(void) {
    struct { const char *hdr; size_t data; int want; int64_t n; } v[] = {
        { "{}", 0, LC_OK, 0 },
        { "{\"__metadata__\": {\"format\": \"pt\"}}", 0, LC_OK, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}   ", 24, LC_OK, 1 },
        { "{\"a\": {\"dtype\": \"I64\", \"shape\": [3], \"data_offsets\": [0, 24]},"
          " \"b\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [24, 25]},"
          " \"c\": {\"dtype\": \"BF16\", \"shape\": [0, 4], \"data_offsets\": [25, 25]}}", 25, LC_OK, 3 },
        { "[]", 0, LC_ERR_FORMAT, 0 },
        { "{", 0, LC_ERR_FORMAT, 0 },
        { "{} x", 0, LC_ERR_FORMAT, 0 },
        { "{\"a\": 1}", 0, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F33\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4], \"data_offsets\": [0, 0]}}", 4,
          LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [18446744073709551612, 0]}}", 4,
          LC_ERR_FORMAT, 0 },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
          " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
        { "{\"\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, LC_ERR_FORMAT, 0 },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(v); k++) {
        size_t n;
        uint8_t *b = make_st(v[k].hdr, v[k].data, &n);
        int64_t nt;
        int rc = st_parse_copy(b, n, &nt);
        free(b);
        CHECKF(rc == v[k].want, "case %zu: rc %d (%s)", k, rc, lc_last_error());
        if (rc == LC_OK) CHECK(nt == v[k].n);
    }
    /* element sizes, ggml order */
    size_t n;
    uint8_t *b = make_st(v[3].hdr, v[3].data, &n);
    lc_tensor *ts;
    char **names;
    int64_t nt;
    CHECK(lc_safetensors_parse(b, n, &ts, &names, &nt) == LC_OK && nt == 3);
    CHECK(strcmp(ts[0].name, "a") == 0 && ts[0].type == 27 && ts[0].nbytes == 24 && ts[0].ne[0] == 3);
    CHECK(strcmp(ts[1].name, "b") == 0 && ts[1].nbytes == 1 && ts[1].n_dims == 1 && ts[1].ne[0] == 1);
    CHECK(ts[2].type == LC_TYPE_BF16 && ts[2].ne[0] == 4 && ts[2].ne[1] == 0 && ts[2].nbytes == 0);
    for (int i = 0; i < 3; i++) free(names[i]);
    free(names);
    free(ts);
    free(b);
    /* header length: huge, past the end, too short */
    uint8_t raw[16] = { 0 };
    uint64_t hl = 1ull << 62;
    memcpy(raw, &hl, 8);
    CHECK(st_parse_copy(raw, sizeof raw, NULL) == LC_ERR_FORMAT);
    hl = 9;
    memcpy(raw, &hl, 8);
    CHECK(st_parse_copy(raw, sizeof raw, NULL) == LC_ERR_FORMAT);
    CHECK(st_parse_copy(raw, 7, NULL) == LC_ERR_FORMAT);
    CHECK(st_parse_copy(raw, 0, NULL) == LC_ERR_FORMAT);
    return T_PASS;
}

static int test_safetensors_corrupt(void) {
    const char *path = t_shared("vectors/tiny/model.safetensors");
    if (!path) return T_SKIP;
    size_t n;
    uint8_t *src = slurp(path, &n);
    CHECK(src);
    uint64_t hl;
    memcpy(&hl, src, 8);
    CHECK(st_parse_copy(src, n, NULL) == LC_OK);
    /* the last tensor ends the file: every truncation fails */
    for (size_t len = 0; len < n; len += len < hl + 72 ? 1 : 4099)
        CHECKF(st_parse_copy(src, len, NULL) != LC_OK, "truncated at %zu parsed", len);
    uint8_t *m = malloc(n);
    CHECK(m);
    memcpy(m, src, n);
    for (size_t p = 0; p < 8 + hl; p++)
        for (int x = 0; x < 2; x++) {
            uint8_t fl = x ? 0x01 : 0xFF;
            m[p] ^= fl;
            int rc = st_parse_copy(m, n, NULL);
            m[p] ^= fl;
            CHECKF(rc != 99, "flip at %zu: view outside the buffer", p);
        }
    free(m);
    free(src);
    return T_PASS;
}

const lc_test_case tests_formats[] = {
    { "formats/gguf_vectors", test_gguf_vectors },
    { "formats/gguf_close_zeroed", test_gguf_close_zeroed },
    { "formats/gguf_crafted", test_gguf_crafted },
    { "formats/gguf_corrupt_q8_0", test_gguf_corrupt_q8_0 },
    { "formats/gguf_corrupt_q4_k", test_gguf_corrupt_q4_k },
    { "formats/rope_llama3_spec", test_rope_llama3_spec },
    { "formats/rope_vs_gguf", test_rope_vs_gguf },
    { "formats/hf_vectors", test_hf_vectors },
    { "formats/hf_sharded", test_hf_sharded },
    { "formats/hf_config_variants", test_hf_config_variants },
    { "formats/safetensors_crafted", test_safetensors_crafted },
    { "formats/safetensors_corrupt", test_safetensors_corrupt },
    { 0 },
};
