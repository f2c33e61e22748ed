/* test_model.c - the forward pass against ../shared/vectors: logits of every case, sequence
 * and file within the strict tolerances, greedy continuations, incremental decoding equal to
 * the full forward, thread-count invariance and several sequences in one batch. */
#include "internal.h"
#include "test.h"
#include "kernels.h"
#include "gguf_write.h"

#include <jansson.h>
#include <math.h>

static const char *cases[] = { "tiny", "tied", "mha", "scaled", "quant" };

static json_t *load_json(const char *path) {
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fprintf(stderr, "  %s: %s\n", path, err.text);
    return j;
}

static float *load_f32(const char *path, size_t *n) {
    char *buf;
    size_t len;
    if (lc_read_file(path, &buf, &len, (size_t)1 << 30) != LC_OK) return NULL;
    *n = len / 4;
    float *f = malloc(len ? len : 4);
    if (f) memcpy(f, buf, len);
    free(buf);
    return f;
}

static int model_path(char *out, size_t cap, const char *cas, const char *type) {
    const char *dir = t_shared("vectors");
    if (!dir) return -1;
    if (strcmp(type, "hf") == 0) snprintf(out, cap, "%s/%s", dir, cas);
    else snprintf(out, cap, "%s/%s/model-%s.gguf", dir, cas, type);
    return 0;
}

static lc_model *load_model(const char *cas, const char *type, int threads) {
    char path[4096];
    if (model_path(path, sizeof path, cas, type)) return NULL;
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = threads;
    lc_model *m = NULL;
    if (lc_model_load(path, &mp, &m) != LC_OK) fprintf(stderr, "  load %s: %s\n", path, lc_last_error());
    return m;
}

/* context settings of forward_all (and load_model's contexts) */
static int g_exact = 1;
static const char *g_isa = NULL;

/* evaluates ids as one batch (all logits) in a fresh context */
static float *forward_all(lc_model *m, const int32_t *ids, int n, int threads, int n_batch) {
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = lc_model_get_info(m)->n_ctx_train;
    cp.n_threads = threads;
    cp.exact = g_exact;
    cp.isa = g_isa;
    if (n_batch) cp.n_batch = n_batch;
    lc_ctx *c;
    if (lc_ctx_new(m, &cp, &c) != LC_OK) return NULL;
    int V = lc_model_get_info(m)->n_vocab;
    int32_t *pos = malloc(n * sizeof *pos), *seq = calloc(n, sizeof *seq);
    int8_t *want = malloc(n);
    for (int i = 0; i < n; i++) pos[i] = i, want[i] = 1;
    lc_batch b = { n, ids, pos, seq, want };
    float *out = NULL;
    if (lc_ctx_decode(c, &b) == LC_OK) {
        out = malloc((size_t)n * V * sizeof *out);
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * V, lc_ctx_logits(c, i), V * sizeof *out);
    } else {
        fprintf(stderr, "  decode: %s\n", lc_last_error());
    }
    free(pos);
    free(seq);
    free(want);
    lc_ctx_free(c);
    return out;
}

static double max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as failure */
    }
    return m;
}

static int json_ids(json_t *arr, int32_t **out) {
    int n = (int)json_array_size(arr);
    *out = malloc((n ? n : 1) * sizeof **out);
    for (int i = 0; i < n; i++) (*out)[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return n;
}

/* every case x weight type x sequence within tolerance_max_abs; in FAST mode the quantized
 * types are held to tolerance_max_abs_act_quant (activations rounded like ggml) */
static int check_vectors(void) {
    int n_checked = 0;
    for (size_t ci = 0; ci < LC_ARRAY_LEN(cases); ci++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/expected.json", t_shared("vectors"), cases[ci]);
        json_t *exp = load_json(path);
        CHECK(exp);
        snprintf(path, sizeof path, "%s/%s/tokens.json", t_shared("vectors"), cases[ci]);
        json_t *toks = load_json(path);
        CHECK(toks);
        json_t *weights = json_object_get(exp, "weights"), *tol = json_object_get(exp, "tolerance_max_abs");
        json_t *tol_aq = json_object_get(exp, "tolerance_max_abs_act_quant");
        const char *type;
        json_t *unused;
        json_object_foreach(weights, type, unused) {
            const char *ftype = strcmp(type, "hf") == 0 ? "f32" : type;
            double tolv = json_real_value(json_object_get(tol, ftype));
            if (!g_exact && json_object_get(tol_aq, ftype)) tolv = json_real_value(json_object_get(tol_aq, ftype));
            CHECK(tolv > 0);
            lc_model *m = load_model(cases[ci], type, 2);
            CHECKF(m, "%s/%s", cases[ci], type);
            const char *seqname;
            json_t *ids_j;
            json_object_foreach(toks, seqname, ids_j) {
                int32_t *ids;
                int n = json_ids(ids_j, &ids);
                json_t *seqinfo = json_object_get(json_object_get(exp, "sequences"), seqname);
                const char *lf = json_string_value(json_object_get(json_object_get(seqinfo, "logits"), ftype));
                CHECK(lf);
                snprintf(path, sizeof path, "%s/%s/%s", t_shared("vectors"), cases[ci], lf);
                size_t ne;
                float *want = load_f32(path, &ne);
                int V = lc_model_get_info(m)->n_vocab;
                CHECK(want && ne == (size_t)n * V);
                float *got = forward_all(m, ids, n, 2, 0);
                CHECK(got);
                double d = max_abs(got, want, ne);
                CHECKF(d <= tolv, "%s %s %s (%s, %s): max abs %g > %g", cases[ci], type, seqname,
                       g_exact ? "exact" : "fast", g_isa ? g_isa : "best", d, tolv);
                n_checked++;
                free(got);
                free(want);
                free(ids);
            }
            lc_model_free(m);
        }
        json_decref(exp);
        json_decref(toks);
    }
    CHECK(n_checked >= 50);
    return T_PASS;
}

static int test_vectors_logits(void) {
    if (!t_shared("vectors")) return T_SKIP;
    g_exact = 1;
    g_isa = NULL;
    return check_vectors();
}

/* every kernel set this CPU runs, in EXACT and FAST mode */
static int test_vectors_every_isa(void) {
    if (!t_shared("vectors")) return T_SKIP;
    const char *isas[] = { "scalar", "avx2", "avx512" };
    int r = T_PASS;
    for (size_t i = 0; i < LC_ARRAY_LEN(isas) && r == T_PASS; i++) {
        if (!lc_kern_get(isas[i])) continue;
        for (int ex = 0; ex < 2 && r == T_PASS; ex++) {
            g_exact = ex;
            g_isa = isas[i];
            r = check_vectors();
        }
    }
    g_exact = 1;
    g_isa = NULL;
    return r;
}

/* greedy continuation with KV-cache decoding reproduces expected.json ids */
static int test_vectors_greedy(void) {
    if (!t_shared("vectors")) return T_SKIP;
    for (size_t ci = 0; ci < LC_ARRAY_LEN(cases); ci++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/expected.json", t_shared("vectors"), cases[ci]);
        json_t *exp = load_json(path);
        CHECK(exp);
        json_t *greedy = json_object_get(exp, "greedy");
        int32_t *prompt;
        int np = json_ids(json_object_get(greedy, "prompt"), &prompt);
        int n_new = (int)json_integer_value(json_object_get(greedy, "n_new"));
        const char *type;
        json_t *ids_j;
        json_object_foreach(json_object_get(greedy, "ids"), type, ids_j) {
            lc_model *m = load_model(cases[ci], type, 2);
            CHECK(m);
            lc_ctx *c;
            lc_ctx_params cp;
            lc_ctx_params_default(&cp);
            cp.exact = 1; /* the greedy ids are guaranteed for exact math only */
            CHECK(lc_ctx_new(m, &cp, &c) == LC_OK);
            int V = lc_model_get_info(m)->n_vocab;
            int32_t pos[64], seq[64] = { 0 };
            for (int i = 0; i < np; i++) pos[i] = i;
            lc_batch b = { np, prompt, pos, seq, NULL };
            CHECK(lc_ctx_decode(c, &b) == LC_OK);
            const float *lg = lc_ctx_logits(c, np - 1);
            for (int k = 0; k < n_new; k++) {
                CHECK(lg);
                int best = 0;
                for (int v = 1; v < V; v++)
                    if (lg[v] > lg[best]) best = v;
                int expect = (int)json_integer_value(json_array_get(ids_j, k));
                CHECKF(best == expect, "%s %s step %d: %d != %d", cases[ci], type, k, best, expect);
                int32_t p = np + k, s = 0;
                lc_batch one = { 1, &best, &p, &s, NULL };
                CHECK(lc_ctx_decode(c, &one) == LC_OK);
                lg = lc_ctx_logits(c, 0);
            }
            lc_ctx_free(c);
            lc_model_free(m);
        }
        free(prompt);
        json_decref(exp);
    }
    return T_PASS;
}

static int load_seq(const char *cas, const char *name, int32_t **ids) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/tokens.json", t_shared("vectors"), cas);
    json_t *toks = load_json(path);
    if (!toks) return 0;
    int n = json_ids(json_object_get(toks, name), ids);
    json_decref(toks);
    return n;
}

/* prompt in one batch, then token by token == the full forward; small micro-batches too */
static int test_incremental_equals_full(void) {
    if (!t_shared("vectors")) return T_SKIP;
    lc_model *m = load_model("tied", "q8_0", 2);
    CHECK(m);
    int32_t *ids;
    int n = load_seq("tied", "seq64", &ids);
    CHECK(n == 64);
    int V = lc_model_get_info(m)->n_vocab;
    float *full = forward_all(m, ids, n, 2, 0);
    float *chunked = forward_all(m, ids, n, 2, 7); /* micro-batches of 7 */
    CHECK(full && chunked);
    CHECK(max_abs(full, chunked, (size_t)n * V) <= 1e-5);
    lc_ctx *c;
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.exact = 1;
    CHECK(lc_ctx_new(m, &cp, &c) == LC_OK);
    int split = 20;
    int32_t pos[64], seq[64] = { 0 };
    for (int i = 0; i < n; i++) pos[i] = i;
    lc_batch b = { split, ids, pos, seq, NULL };
    CHECK(lc_ctx_decode(c, &b) == LC_OK);
    CHECK(max_abs(lc_ctx_logits(c, split - 1), full + (size_t)(split - 1) * V, V) <= 1e-5);
    for (int i = split; i < n; i++) {
        lc_batch one = { 1, ids + i, pos + i, seq, NULL };
        CHECK(lc_ctx_decode(c, &one) == LC_OK);
        CHECKF(max_abs(lc_ctx_logits(c, 0), full + (size_t)i * V, V) <= 1e-5, "position %d", i);
    }
    CHECK(lc_ctx_seq_pos_max(c, 0) == n - 1);
    /* remove the tail and decode it again: same logits */
    CHECK(lc_ctx_seq_rm(c, 0, 40, -1) == LC_OK);
    CHECK(lc_ctx_seq_pos_max(c, 0) == 39);
    lc_batch tail = { n - 40, ids + 40, pos + 40, seq, NULL };
    CHECK(lc_ctx_decode(c, &tail) == LC_OK);
    CHECK(max_abs(lc_ctx_logits(c, n - 41), full + (size_t)(n - 1) * V, V) <= 1e-5);
    lc_ctx_free(c);
    free(full);
    free(chunked);
    free(ids);
    lc_model_free(m);
    return T_PASS;
}

/* 1 thread and 3 threads give bit-identical logits */
static int test_threads_identical(void) {
    if (!t_shared("vectors")) return T_SKIP;
    lc_model *m = load_model("quant", "q4_k", 1);
    CHECK(m);
    int32_t *ids;
    int n = load_seq("quant", "seq8", &ids);
    CHECK(n == 8);
    int V = lc_model_get_info(m)->n_vocab;
    float *a = forward_all(m, ids, n, 1, 0), *b = forward_all(m, ids, n, 3, 0);
    CHECK(a && b);
    CHECK(memcmp(a, b, (size_t)n * V * sizeof(float)) == 0);
    free(a);
    free(b);
    free(ids);
    lc_model_free(m);
    return T_PASS;
}

/* two sequences interleaved in one batch == each alone */
static int test_multi_sequence(void) {
    if (!t_shared("vectors")) return T_SKIP;
    lc_model *m = load_model("tiny", "f32", 2);
    CHECK(m);
    int32_t *s1, *s2;
    int n1 = load_seq("tiny", "seq7", &s1), n2 = load_seq("tiny", "seq64", &s2);
    CHECK(n1 == 7 && n2 == 64);
    int V = lc_model_get_info(m)->n_vocab;
    float *f1 = forward_all(m, s1, n1, 2, 0), *f2 = forward_all(m, s2, 20, 2, 0);
    CHECK(f1 && f2);
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_seq_max = 3;
    cp.n_ctx = 64;
    lc_ctx *c;
    CHECK(lc_ctx_new(m, &cp, &c) == LC_OK);
    /* batch: s2[0..9] as seq 2 and s1[0..6] as seq 0, interleaved */
    int32_t tok[17], pos[17], seq[17];
    int8_t want[17];
    int k = 0;
    for (int i = 0; i < 10; i++) {
        tok[k] = s2[i], pos[k] = i, seq[k] = 2, want[k] = 1, k++;
        if (i < 7) tok[k] = s1[i], pos[k] = i, seq[k] = 0, want[k] = 1, k++;
    }
    lc_batch b = { k, tok, pos, seq, want };
    CHECK(lc_ctx_decode(c, &b) == LC_OK);
    for (int i = 0; i < k; i++) {
        const float *ref = seq[i] == 0 ? f1 + (size_t)pos[i] * V : f2 + (size_t)pos[i] * V;
        CHECKF(max_abs(lc_ctx_logits(c, i), ref, V) <= 1e-5, "batch token %d", i);
    }
    /* continue seq 2 alone to position 19 */
    for (int i = 10; i < 20; i++) {
        int32_t s = 2;
        lc_batch one = { 1, s2 + i, &i, &s, NULL };
        CHECK(lc_ctx_decode(c, &one) == LC_OK);
        CHECK(max_abs(lc_ctx_logits(c, 0), f2 + (size_t)i * V, V) <= 1e-5);
    }
    CHECK(lc_ctx_n_free(c) == 64 - 27);
    /* dropping seq 0 frees its cells */
    CHECK(lc_ctx_seq_rm(c, 0, 0, -1) == LC_OK);
    CHECK(lc_ctx_n_free(c) == 64 - 20);
    CHECK(lc_ctx_seq_pos_max(c, 0) == -1);
    lc_ctx_free(c);
    free(f1);
    free(f2);
    free(s1);
    free(s2);
    lc_model_free(m);
    return T_PASS;
}

/* bad batches are refused without changing the cache; a full context says so */
static int test_decode_errors(void) {
    if (!t_shared("vectors")) return T_SKIP;
    lc_model *m = load_model("tiny", "f32", 1);
    CHECK(m);
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = 8;
    lc_ctx *c;
    CHECK(lc_ctx_new(m, &cp, &c) == LC_OK);
    int32_t tok[10] = { 510, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, pos[10], seq[10] = { 0 };
    for (int i = 0; i < 10; i++) pos[i] = i;
    lc_batch b = { 10, tok, pos, seq, NULL };
    CHECK(lc_ctx_decode(c, &b) == LC_ERR_CONTEXT);
    CHECK(strstr(lc_last_error(), "context"));
    CHECK(lc_ctx_n_free(c) == 8);
    int32_t bad = 512;
    lc_batch b2 = { 1, &bad, pos, seq, NULL };
    CHECK(lc_ctx_decode(c, &b2) == LC_ERR_ARG);
    int32_t badseq = 1;
    lc_batch b3 = { 1, tok, pos, &badseq, NULL };
    CHECK(lc_ctx_decode(c, &b3) == LC_ERR_ARG);
    lc_batch b4 = { 4, tok, pos, seq, NULL };
    CHECK(lc_ctx_decode(c, &b4) == LC_OK);
    lc_batch b5 = { 1, tok, pos + 2, seq, NULL }; /* position goes back */
    CHECK(lc_ctx_decode(c, &b5) == LC_ERR_ARG);
    CHECK(lc_ctx_n_free(c) == 4);
    CHECK(lc_ctx_logits(c, 3) != NULL && lc_ctx_logits(c, 2) == NULL);
    lc_ctx_params big = cp;
    big.n_ctx = 1 << 20;
    lc_ctx *c2;
    CHECK(lc_ctx_new(m, &big, &c2) == LC_ERR_ARG); /* beyond the model's context */
    /* a context that does not fit in the available memory is refused with a message */
    setenv("LLAMAC_MEM_LIMIT", "100000", 1);
    big.n_ctx = 256;
    int rc_mem = lc_ctx_new(m, &big, &c2);
    unsetenv("LLAMAC_MEM_LIMIT");
    CHECK(rc_mem == LC_ERR_NOMEM && strstr(lc_last_error(), "smaller --ctx"));
    lc_ctx_free(c);
    lc_model_free(m);
    return T_PASS;
}

/* the same model from safetensors and every GGUF of the quant case agrees closely */
static int test_formats_agree(void) {
    if (!t_shared("vectors")) return T_SKIP;
    lc_model *a = load_model("scaled", "hf", 2), *b = load_model("scaled", "f32", 2);
    CHECK(a && b);
    CHECK(lc_model_get_info(a)->rope_neox == 1 && lc_model_get_info(b)->rope_neox == 0);
    CHECK(lc_model_get_info(a)->rope_scaled && lc_model_get_info(b)->rope_scaled);
    int32_t *ids;
    int n = load_seq("scaled", "seq300", &ids);
    CHECK(n == 300);
    int V = lc_model_get_info(a)->n_vocab;
    float *fa = forward_all(a, ids, n, 2, 0), *fb = forward_all(b, ids, n, 2, 0);
    CHECK(fa && fb);
    CHECK(max_abs(fa, fb, (size_t)n * V) <= 1e-4);
    free(fa);
    free(fb);
    free(ids);
    lc_model_free(a);
    lc_model_free(b);
    return T_PASS;
}


/* truncated or damaged model files fail to load with a message, never crash */
static int test_load_corrupt(void) {
    if (!t_shared("vectors")) return T_SKIP;
    const char *files[] = { "tiny/model-q8_0.gguf", "quant/model-q6_k.gguf", "tied/model-f16.gguf" };
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/corrupt.gguf", t_tmpdir());
    for (size_t fi = 0; fi < LC_ARRAY_LEN(files); fi++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", t_shared("vectors"), files[fi]);
        char *buf;
        size_t len;
        CHECK(lc_read_file(path, &buf, &len, (size_t)1 << 26) == LC_OK);
        /* truncation at 97 points spread over the file, plus the first 64 bytes one by one */
        for (int k = 0; k < 64 + 97; k++) {
            size_t cut = k < 64 ? (size_t)k : (size_t)((double)(k - 64) / 97 * len);
            CHECK(t_write_file(tmp, buf, cut) == 0);
            lc_model *m = NULL;
            int rc = lc_model_load(tmp, NULL, &m);
            CHECKF(rc != LC_OK && m == NULL, "%s cut at %zu loaded", files[fi], cut);
            CHECK(strlen(lc_last_error()) > 0);
        }
        /* overwrite 8 bytes with 0xff at 200 places of the metadata and tensor table */
        for (int k = 0; k < 200; k++) {
            char *copy = malloc(len);
            memcpy(copy, buf, len);
            size_t at = 8 + (size_t)k * 37 % (len / 4);
            memset(copy + at, 0xff, LC_MIN((size_t)8, len - at));
            CHECK(t_write_file(tmp, copy, len) == 0);
            lc_model *m = NULL;
            if (lc_model_load(tmp, NULL, &m) == LC_OK) { /* the damage may hit tensor data: still must run */
                lc_ctx *c = NULL;
                if (lc_ctx_new(m, NULL, &c) == LC_OK) {
                    int32_t tok = 0, pos = 0, seq = 0;
                    lc_batch b = { 1, &tok, &pos, &seq, NULL };
                    lc_ctx_decode(c, &b);
                }
                lc_ctx_free(c);
                lc_model_free(m);
            }
            free(copy);
        }
        free(buf);
    }
    return T_PASS;
}

/* A model whose q/k/v and gate/up differ in type takes the unfused paths (q+k in one pool job,
 * v in another; gate and up separately, then SwiGLU). Built from the shared Q4_K and Q6_K files
 * (attn_v and ffn_up from Q6_K), and once more with every weight dequantized to F32: in EXACT
 * mode both are float32 arithmetic on the same values, in FAST mode the mix stays within the
 * activation-rounding tolerance of those types. */
typedef struct {
    const lc_gguf *g[2]; /* Q4_K file, Q6_K file */
    bool f32;
} mix_src_t;

static const lc_tensor *mix_tensor(const mix_src_t *u, int ti) {
    const char *name = u->g[0]->tensors[ti].name;
    return lc_gguf_tensor(u->g[strstr(name, "attn_v") || strstr(name, "ffn_up") ? 1 : 0], name);
}

static int fill_mix(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    const mix_src_t *u = ud;
    const lc_tensor *t = mix_tensor(u, ti);
    size_t rb;
    lc_type_row_bytes(t->type, t->ne[0], &rb);
    const uint8_t *src = (const uint8_t *)t->data + (size_t)row0 * rb;
    if (!u->f32 || t->type == LC_TYPE_F32) {
        memcpy(dst, src, (size_t)n_rows * rb);
        return LC_OK;
    }
    for (int64_t r = 0; r < n_rows; r++)
        lc_dequant_row(t->type, src + (size_t)r * rb, (float *)dst + r * t->ne[0], t->ne[0]);
    return LC_OK;
}

static int write_mix(mix_src_t *u, const char *path) {
    const lc_gguf *g = u->g[0];
    lc_gguf_writer *w = NULL;
    int rc = lc_gguf_writer_new(&w);
    for (int64_t i = 0; !rc && i < g->n_kv; i++) rc = lc_gguf_copy_kv(w, &g->kv[i]);
    for (int64_t i = 0; !rc && i < g->n_tensors; i++) {
        const lc_tensor *t = mix_tensor(u, (int)i);
        rc = t ? lc_gguf_add_tensor(w, t->name, u->f32 ? LC_TYPE_F32 : t->type, t->n_dims, t->ne) : LC_ERR_FORMAT;
    }
    if (!rc) rc = lc_gguf_write(w, path, fill_mix, u, NULL, NULL);
    lc_gguf_writer_free(w);
    return rc;
}

static int test_mixed_types(void) {
    const char *q4 = t_shared("vectors/quant/model-q4_k.gguf"), *q6 = t_shared("vectors/quant/model-q6_k.gguf");
    if (!q4 || !q6) return T_SKIP;
    lc_gguf g4, g6;
    CHECK(lc_gguf_open(q4, &g4) == LC_OK);
    CHECK(lc_gguf_open(q6, &g6) == LC_OK);
    mix_src_t u = { { &g4, &g6 }, false };
    char pm[4096], pf[4096];
    snprintf(pm, sizeof pm, "%s/mix.gguf", t_tmpdir());
    snprintf(pf, sizeof pf, "%s/mix-f32.gguf", t_tmpdir());
    int rm = write_mix(&u, pm);
    u.f32 = true;
    int rf = write_mix(&u, pf);
    lc_gguf_close(&g4);
    lc_gguf_close(&g6);
    CHECK(rm == LC_OK && rf == LC_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/quant/expected.json", t_shared("vectors"));
    json_t *exp = load_json(path);
    CHECK(exp);
    json_t *tol = json_object_get(exp, "tolerance_max_abs");
    json_t *tol_aq = json_object_get(exp, "tolerance_max_abs_act_quant");
    double strict = json_real_value(json_object_get(tol, "q4_k"));
    double aq = fmax(json_real_value(json_object_get(tol_aq, "q4_k")), json_real_value(json_object_get(tol_aq, "q6_k")));
    json_decref(exp);
    CHECK(strict > 0 && aq > 0);
    lc_model *mm, *mf;
    CHECK(lc_model_load(pm, NULL, &mm) == LC_OK);
    CHECK(lc_model_load(pf, NULL, &mf) == LC_OK);
    int32_t *ids;
    int n = load_seq("quant", "seq100", &ids);
    CHECK(n > 0);
    size_t ne = (size_t)n * lc_model_get_info(mm)->n_vocab;
    g_isa = NULL;
    g_exact = 1;
    float *ref = forward_all(mf, ids, n, 2, 0), *ex = forward_all(mm, ids, n, 2, 0);
    g_exact = 0;
    float *fast = forward_all(mm, ids, n, 2, 0);
    g_exact = 1;
    CHECK(ref && ex && fast);
    double de = max_abs(ex, ref, ne), df = max_abs(fast, ref, ne);
    fprintf(stderr, "  mixed Q4_K/Q6_K vs the same weights in F32: exact %.2g, fast %.2g\n", de, df);
    CHECKF(de <= strict, "mixed Q4_K/Q6_K exact vs F32: max abs %g > %g", de, strict);
    CHECKF(df <= aq, "mixed Q4_K/Q6_K fast vs F32: max abs %g > %g", df, aq);
    free(ref);
    free(ex);
    free(fast);
    free(ids);
    lc_model_free(mm);
    lc_model_free(mf);
    return T_PASS;
}

const lc_test_case tests_model[] = {
    { "model_load_corrupt", test_load_corrupt },
    { "model_vectors_logits", test_vectors_logits },
    { "model_vectors_every_isa", test_vectors_every_isa },
    { "model_vectors_greedy", test_vectors_greedy },
    { "model_incremental_equals_full", test_incremental_equals_full },
    { "model_threads_identical", test_threads_identical },
    { "model_multi_sequence", test_multi_sequence },
    { "model_decode_errors", test_decode_errors },
    { "model_formats_agree", test_formats_agree },
    { "model_mixed_types", test_mixed_types },
    { NULL, NULL },
};
