/* test_convert.c - make-model and quantize: random-weight files of every type load and agree
 * with their F32 twin, the Q4_K_M mix follows llama.cpp's rules, quantizing the shared quant
 * case matches its reference files bit for bit (F16/BF16/Q8_0/Q4_0/Q4_1) and its logits, the
 * Hugging Face folder converts to exactly model-f32.gguf, and failures leave no file behind. */
#include "internal.h"
#include "convert.h"
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------- */
static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", t_tmpdir(), name);
    return b;
}

static lc_model *load(const char *path) {
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = 2;
    lc_model *m = NULL;
    if (lc_model_load(path, &mp, &m) != LC_OK) fprintf(stderr, "  load %s: %s\n", path, lc_last_error());
    return m;
}

/* logits of every position of ids (malloc'd [n, vocab]) */
static float *forward(lc_model *m, const int32_t *ids, int n) {
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = 64;
    cp.n_threads = 2;
    lc_ctx *c;
    if (lc_ctx_new(m, &cp, &c) != LC_OK) return NULL;
    int V = lc_model_get_info(m)->n_vocab;
    int32_t pos[64], seq[64] = { 0 };
    int8_t want[64];
    for (int i = 0; i < n; i++) pos[i] = i, want[i] = 1;
    lc_batch b = { n, ids, pos, seq, want };
    float *out = NULL;
    if (n <= 64 && lc_ctx_decode(c, &b) == LC_OK && (out = malloc((size_t)n * V * sizeof *out)))
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * V, lc_ctx_logits(c, i), V * sizeof *out);
    else fprintf(stderr, "  decode: %s\n", lc_last_error());
    lc_ctx_free(c);
    return out;
}

static float *forward_file(const char *path, const int32_t *ids, int n, int *vocab) {
    lc_model *m = load(path);
    if (!m) return NULL;
    *vocab = lc_model_get_info(m)->n_vocab;
    float *l = forward(m, ids, n);
    lc_model_free(m);
    return l;
}

static double max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static bool all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return false;
    return true;
}

/* 1 if every tensor of a is in b with the same type, shape and bytes */
static int same_tensors(const char *pa, const char *pb) {
    lc_gguf a, b;
    if (lc_gguf_open(pa, &a) != LC_OK) return 0;
    if (lc_gguf_open(pb, &b) != LC_OK) {
        lc_gguf_close(&a);
        return 0;
    }
    int ok = a.n_tensors == b.n_tensors;
    for (int64_t i = 0; ok && i < a.n_tensors; i++) {
        const lc_tensor *x = &a.tensors[i], *y = lc_gguf_tensor(&b, x->name);
        ok = y && x->type == y->type && x->nbytes == y->nbytes && memcmp(x->ne, y->ne, sizeof x->ne) == 0 &&
             memcmp(x->data, y->data, x->nbytes) == 0;
        if (!ok) fprintf(stderr, "  tensor %s differs between %s and %s\n", x->name, pa, pb);
    }
    lc_gguf_close(&a);
    lc_gguf_close(&b);
    return ok;
}

static int seq8(int32_t *ids) {
    const char *p = t_shared("vectors/quant/tokens.json");
    json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
    json_t *a = json_object_get(j, "seq8");
    int n = 0;
    for (size_t i = 0; i < json_array_size(a) && i < 8; i++)
        ids[n++] = (int32_t)json_integer_value(json_array_get(a, i));
    json_decref(j);
    return n;
}

static bool gone(const char *path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    return access(path, F_OK) != 0 && access(tmp, F_OK) != 0;
}

/* ---- type names and the Q4_K_M rules --------------------------------------------- */
static int test_ftype_names(void) {
    int ft;
    CHECK(lc_ftype_parse("q4_k_m", &ft) == LC_OK && ft == LC_FTYPE_Q4_K_M);
    CHECK(lc_ftype_parse("Q8_0", &ft) == LC_OK && ft == LC_FTYPE_Q8_0);
    CHECK(lc_ftype_parse("q4_k", &ft) == LC_OK && ft == LC_FTYPE_Q4_K);
    CHECK(lc_ftype_parse("bf16", &ft) == LC_OK && ft == LC_FTYPE_BF16);
    CHECK(lc_ftype_parse("q5_k", &ft) == LC_ERR_ARG && strstr(lc_last_error(), "q5_k"));
    CHECK(lc_ftype_parse(NULL, &ft) == LC_ERR_ARG);
    CHECK(strcmp(lc_ftype_name(LC_FTYPE_Q4_K_M), "Q4_K_M") == 0);
    return T_PASS;
}

static int test_q4_k_m_rules(void) {
    /* 1B: 16 layers, tied: token_embd takes the output's Q6_K; use_more_bits layers
     * 0,1 (first eighth), 14,15 (last eighth) and 4,7,10,13 (every third) */
    const int more16[] = { 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1 };
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, "token_embd.weight", 2048, 16, 0) == LC_TYPE_Q6_K);
    for (int l = 0; l < 16; l++) {
        char v[64], d[64], q[64];
        snprintf(v, sizeof v, "blk.%d.attn_v.weight", l);
        snprintf(d, sizeof d, "blk.%d.ffn_down.weight", l);
        snprintf(q, sizeof q, "blk.%d.attn_q.weight", l);
        int want = more16[l] ? LC_TYPE_Q6_K : LC_TYPE_Q4_K;
        CHECKF(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, v, 2048, 16, 0) == want, "layer %d attn_v", l);
        CHECKF(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, d, 8192, 16, 0) == want, "layer %d ffn_down", l);
        CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, q, 2048, 16, 0) == LC_TYPE_Q4_K);
    }
    /* 8B: 32 layers, untied: output Q6_K, token_embd Q4_K; 0-3, 28-31, 6, 9, ..., 27 */
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, "output.weight", 4096, 32, 1) == LC_TYPE_Q6_K);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, "token_embd.weight", 4096, 32, 1) == LC_TYPE_Q4_K);
    int n6 = 0;
    for (int l = 0; l < 32; l++) {
        char d[64];
        snprintf(d, sizeof d, "blk.%d.ffn_down.weight", l);
        bool want = l < 4 || l >= 28 || (l - 4) % 3 == 2;
        n6 += want;
        CHECKF((lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, d, 14336, 32, 1) == LC_TYPE_Q6_K) == want, "8B layer %d", l);
    }
    CHECK(n6 == 16);
    /* plain types touch nothing */
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_0, "output.weight", 4096, 32, 1) == LC_TYPE_Q4_0);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K, "blk.0.attn_v.weight", 4096, 32, 1) == LC_TYPE_Q4_K);
    /* fallbacks for rows that do not fill whole blocks */
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q8_0, "blk.0.attn_q.weight", 100, 2, 1) == LC_TYPE_F16);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K, "blk.0.attn_q.weight", 96, 2, 1) == LC_TYPE_Q8_0);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q6_K, "blk.0.attn_q.weight", 80, 2, 1) == LC_TYPE_F16);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_Q4_K_M, "output.weight", 96, 2, 1) == LC_TYPE_Q8_0);
    CHECK(lc_ftype_tensor_type(LC_FTYPE_F16, "blk.0.attn_q.weight", 7, 2, 1) == LC_TYPE_F16);
    return T_PASS;
}

/* ---- make-model ------------------------------------------------------------------ */
static int make_tiny(const char *type, const char *path, uint64_t seed) {
    lc_make_model_params p;
    lc_make_model_params_default(&p);
    p.shape = "tiny";
    p.type = type;
    p.seed = seed;
    p.tokenizer = t_shared("data/tokenizer/tokenizer.json");
    p.n_threads = 2;
    int rc = lc_make_model(path, &p);
    if (rc) fprintf(stderr, "  make-model %s: %s\n", type, lc_last_error());
    return rc;
}

static int test_make_model_tiny(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    static const struct { const char *type; int mat; double bound; } types[] = {
        { "f32", LC_TYPE_F32, 0 },      { "f16", LC_TYPE_F16, 0.02 },  { "bf16", LC_TYPE_BF16, 0.1 },
        { "q8_0", LC_TYPE_Q8_0, 0.4 },  { "q4_0", LC_TYPE_Q4_0, 3 },    { "q4_1", LC_TYPE_Q4_1, 3 },
        { "q6_k", LC_TYPE_Q6_K, 0.8 },  { "q4_k", LC_TYPE_Q4_K, 2.5 },  /* make-model's q4_k = Q4_K_M */
    };
    const int32_t ids[6] = { 128000, 9906, 11, 1917, 0, 128009 };
    float *ref = NULL;
    int V = 0;
    for (size_t k = 0; k < LC_ARRAY_LEN(types); k++) {
        char name[64];
        snprintf(name, sizeof name, "tiny-%s.gguf", types[k].type);
        const char *path = tmp_path(name);
        CHECK(make_tiny(types[k].type, path, 7) == LC_OK);
        lc_model *m = load(path);
        CHECK(m);
        const lc_model_info *mi = lc_model_get_info(m);
        CHECK(mi->n_vocab == 128256 && mi->dim == 256 && mi->n_layers == 2 && mi->tied_output);
        CHECK(mi->bos_id == 128000 && mi->eos_id == 128009 && mi->has_chat_template && mi->rope_scaled);
        CHECK(lc_model_tok(m) && lc_tok_is_eog(lc_model_tok(m), 128008) && lc_tok_is_eog(lc_model_tok(m), 128009));
        bool mix = strcmp(types[k].type, "q4_k") == 0;
        for (int i = 0; i < lc_model_n_tensors(m); i++) {
            lc_tensor_info ti;
            CHECK(lc_model_tensor(m, i, &ti) == LC_OK);
            int want = types[k].mat;
            if (ti.n_dims == 1) want = LC_TYPE_F32;
            else if (mix && (strcmp(ti.name, "token_embd.weight") == 0 || strcmp(ti.name, "blk.1.attn_v.weight") == 0 ||
                             strcmp(ti.name, "blk.1.ffn_down.weight") == 0))
                want = LC_TYPE_Q6_K;   /* output (= tied token_embd), use_more_bits(1, 2) */
            CHECKF(ti.type == want, "%s: %s is %s, expected %s", types[k].type, ti.name, lc_type_name(ti.type),
                   lc_type_name(want));
        }
        float *l = forward(m, ids, 6);
        lc_model_free(m);
        CHECK(l && all_finite(l, (size_t)6 * 128256));
        if (!ref) {
            ref = l, V = 128256;
            double ss = 0;
            for (int i = 0; i < V; i++) ss += (double)l[5 * V + i] * l[5 * V + i];
            CHECKF(sqrt(ss / V) > 0.3 && sqrt(ss / V) < 5, "logit rms %g", sqrt(ss / V));
            continue;
        }
        /* same seed, same weights: each type is close to the F32 file */
        double d = max_abs(ref, l, (size_t)6 * V);
        free(l);
        if (getenv("LC_TEST_VERBOSE"))
            fprintf(stderr, "  make-model %s: max |logit - f32 logit| = %g\n", types[k].type, d);
        CHECKF(d < types[k].bound, "%s: max |logit - f32 logit| = %g", types[k].type, d);
        unlink(path);
    }
    free(ref);
    unlink(tmp_path("tiny-f32.gguf"));
    return T_PASS;
}

static int test_make_model_tokenizer(void) {
    const char *tj = t_shared("data/tokenizer/tokenizer.json");
    if (!tj) return T_SKIP;
    const char *path = tmp_path("tiny-tok.gguf");
    CHECK(make_tiny("q4_0", path, 1) == LC_OK);
    lc_model *m = load(path);
    CHECK(m);
    lc_tok *ref;
    CHECK(lc_tok_load(tj, &ref) == LC_OK);
    const lc_tok *t = lc_model_tok(m);
    CHECK(lc_tok_n_vocab(t) == lc_tok_n_vocab(ref));
    static const char *texts[] = { "Hello, world! 123 4567", "  leading spaces\n\ttabs", "naïve café 日本語 🙂",
                                   "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>" };
    for (size_t i = 0; i < LC_ARRAY_LEN(texts); i++) {
        int32_t a[128], b[128];
        int na = lc_tok_encode(t, texts[i], strlen(texts[i]), LC_TOK_BOS | LC_TOK_SPECIAL, a, 128);
        int nb = lc_tok_encode(ref, texts[i], strlen(texts[i]), LC_TOK_BOS | LC_TOK_SPECIAL, b, 128);
        CHECKF(na == nb && na > 1 && na <= 128 && memcmp(a, b, (size_t)na * sizeof *a) == 0, "'%s'", texts[i]);
    }
    lc_tok_free(ref);
    const char *tp = t_shared("data/tokenizer/chat_template.jinja");
    if (tp) {
        char *want;
        CHECK(lc_read_file(tp, &want, NULL, 1 << 20) == LC_OK);
        CHECK(lc_model_chat_template(m) && strcmp(lc_model_chat_template(m), want) == 0);
        free(want);
    }
    lc_model_free(m);
    /* metadata a llama.cpp loader looks for */
    lc_gguf g;
    CHECK(lc_gguf_open(path, &g) == LC_OK);
    int64_t v;
    lc_str s;
    CHECK(lc_gguf_get_int(&g, "llama.context_length", &v) == LC_OK && v == 131072);
    CHECK(lc_gguf_get_int(&g, "general.file_type", &v) == LC_OK && v == LC_FTYPE_Q4_0);
    CHECK(lc_gguf_get_int(&g, "general.quantization_version", &v) == LC_OK && v == 2);
    CHECK(lc_gguf_get_int(&g, "llama.rope.dimension_count", &v) == LC_OK && v == 64);
    CHECK(lc_gguf_get_int(&g, "tokenizer.ggml.eom_token_id", &v) == LC_OK && v == 128008);
    CHECK(lc_gguf_get_str(&g, "tokenizer.ggml.pre", &s) == LC_OK && s.len == 9 && memcmp(s.p, "llama-bpe", 9) == 0);
    uint64_t n_merges;
    lc_str *merges;
    CHECK(lc_gguf_get_str_array(&g, "tokenizer.ggml.merges", &merges, &n_merges) == LC_OK && n_merges == 280147);
    free(merges);
    const lc_tensor *rf = lc_gguf_tensor(&g, "rope_freqs.weight");
    CHECK(rf && rf->type == LC_TYPE_F32 && rf->ne[0] == 32);
    float want[32];
    lc_rope_llama3_freqs(want, 64, 500000.0f, 8, 1, 4, 8192);
    CHECK(memcmp(rf->data, want, sizeof want) == 0);
    CHECK(!lc_gguf_tensor(&g, "output.weight"));   /* tied, like 3.2 1B/3B */
    lc_gguf_close(&g);
    unlink(path);
    return T_PASS;
}

static int test_make_model_deterministic(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    const char *a = tmp_path("det-a.gguf"), *b = tmp_path("det-b.gguf"), *c = tmp_path("det-c.gguf");
    CHECK(make_tiny("q8_0", a, 3) == LC_OK && make_tiny("q8_0", b, 3) == LC_OK && make_tiny("q8_0", c, 4) == LC_OK);
    CHECK(same_tensors(a, b));
    lc_gguf ga, gc;
    CHECK(lc_gguf_open(a, &ga) == LC_OK);
    CHECK(lc_gguf_open(c, &gc) == LC_OK);
    const lc_tensor *x = lc_gguf_tensor(&ga, "blk.0.attn_q.weight"), *y = lc_gguf_tensor(&gc, "blk.0.attn_q.weight");
    CHECK(x && y && memcmp(x->data, y->data, x->nbytes) != 0);   /* another seed, other weights */
    lc_gguf_close(&ga);
    lc_gguf_close(&gc);
    unlink(a), unlink(b), unlink(c);
    return T_PASS;
}

/* ---- quantize ----------------------------------------------------------------------- */
static int quantize(const char *in, const char *out, const char *type, int allow) {
    lc_quantize_params p;
    lc_quantize_params_default(&p);
    p.allow_requantize = allow;
    return lc_quantize(in, out, type, &p);
}

static int test_quantize_gguf(void) {
    const char *f32 = t_shared("vectors/quant/model-f32.gguf");
    if (!f32) return T_SKIP;
    char f32_path[4096];
    snprintf(f32_path, sizeof f32_path, "%s", f32);
    int32_t ids[8];
    int n = seq8(ids), V = 0;
    CHECK(n == 8);
    float *ref = forward_file(f32_path, ids, n, &V);
    CHECK(ref && V == 512);
    /* bound on max |logit - f32 logit| over the 8 positions, about twice what was measured (with
     * the engine's activation rounding); these logits have std ~2.6 */
    static const struct { const char *type; int ftype, mat; const char *golden; double bound; } types[] = {
        { "f32", 0, LC_TYPE_F32, "model-f32.gguf", 1e-6 },   { "f16", 1, LC_TYPE_F16, "model-f16.gguf", 0.03 },
        { "bf16", 32, LC_TYPE_BF16, "model-bf16.gguf", 0.2 }, { "q8_0", 7, LC_TYPE_Q8_0, "model-q8_0.gguf", 0.8 },
        { "q4_0", 2, LC_TYPE_Q4_0, "model-q4_0.gguf", 5 },    { "q4_1", 3, LC_TYPE_Q4_1, "model-q4_1.gguf", 5 },
        { "q4_k", 14, LC_TYPE_Q4_K, NULL, 5 },                 { "q4_k_m", 15, LC_TYPE_Q4_K, NULL, 5 },
        { "q6_k", 18, LC_TYPE_Q6_K, NULL, 1.5 },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(types); k++) {
        char name[64];
        snprintf(name, sizeof name, "quant-%s.gguf", types[k].type);
        const char *out = tmp_path(name);
        CHECKF(quantize(f32_path, out, types[k].type, 0) == LC_OK, "%s: %s", types[k].type, lc_last_error());
        if (types[k].golden) {   /* same block layout and rounding as the reference files */
            char g[4096];
            snprintf(g, sizeof g, "%s/%s", t_shared("vectors/quant"), types[k].golden);
            CHECKF(same_tensors(out, g), "%s", types[k].type);
        }
        lc_model *m = load(out);
        CHECK(m);
        for (int i = 0; i < lc_model_n_tensors(m); i++) {
            lc_tensor_info ti;
            CHECK(lc_model_tensor(m, i, &ti) == LC_OK);
            int want = ti.n_dims == 1 ? LC_TYPE_F32 : types[k].mat;
            if (types[k].ftype == LC_FTYPE_Q4_K_M &&
                (!strcmp(ti.name, "output.weight") || !strcmp(ti.name, "blk.1.attn_v.weight") ||
                 !strcmp(ti.name, "blk.1.ffn_down.weight")))
                want = LC_TYPE_Q6_K;
            CHECKF(ti.type == want, "%s: %s is %s", types[k].type, ti.name, lc_type_name(ti.type));
        }
        float *l = forward(m, ids, n);
        lc_model_free(m);
        CHECK(l && all_finite(l, (size_t)n * V));
        double d = max_abs(ref, l, (size_t)n * V);
        free(l);
        if (getenv("LC_TEST_VERBOSE"))
            fprintf(stderr, "  quantize %s: max |logit - f32 logit| = %g\n", types[k].type, d);
        CHECKF(d <= types[k].bound, "%s: max |logit - f32 logit| = %g", types[k].type, d);
        /* metadata: copied, with the new file type */
        lc_gguf g;
        CHECK(lc_gguf_open(out, &g) == LC_OK);
        int64_t v;
        lc_str s;
        CHECK(lc_gguf_get_int(&g, "general.file_type", &v) == LC_OK && v == types[k].ftype);
        CHECK(lc_gguf_get_int(&g, "general.quantization_version", &v) == LC_OK && v == 2);
        CHECK(lc_gguf_get_str(&g, "general.name", &s) == LC_OK && s.len == 12 && !memcmp(s.p, "oracle-quant", 12));
        CHECK(lc_gguf_get_int(&g, "tokenizer.ggml.bos_token_id", &v) == LC_OK && v == 510);
        CHECK(lc_gguf_find(&g, "tokenizer.ggml.merges"));
        lc_gguf_close(&g);
        unlink(out);
    }
    free(ref);
    return T_PASS;
}

static int test_quantize_hf(void) {
    const char *dir = t_shared("vectors/quant/config.json");
    if (!dir) return T_SKIP;
    char hf[2048], f32[4096];
    snprintf(hf, sizeof hf, "%s", t_shared("vectors/quant"));
    snprintf(f32, sizeof f32, "%s/model-f32.gguf", hf);
    const char *o32 = tmp_path("hf-f32.gguf"), *o8 = tmp_path("hf-q8_0.gguf"), *g8 = tmp_path("gguf-q8_0.gguf");
    CHECK(quantize(hf, o32, "f32", 0) == LC_OK);
    /* un-permuted q/k rows and the rope_freqs from config.json: the very same tensors */
    CHECK(same_tensors(o32, f32));
    int32_t ids[8];
    int n = seq8(ids), V = 0, V2 = 0;
    float *a = forward_file(o32, ids, n, &V), *b = forward_file(f32, ids, n, &V2);
    CHECK(a && b && V == V2);
    double d = max_abs(a, b, (size_t)n * V);
    if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  hf->f32 vs model-f32: %g\n", d);
    CHECKF(d <= 1e-4, "hf->f32 vs model-f32: %g", d);
    free(a);
    /* Q8_0 from the folder == Q8_0 from model-f32.gguf, bit for bit */
    CHECK(quantize(hf, o8, "q8_0", 0) == LC_OK);
    CHECK(quantize(f32, g8, "q8_0", 0) == LC_OK);
    CHECK(same_tensors(o8, g8));
    a = forward_file(o8, ids, n, &V);
    float *c = forward_file(g8, ids, n, &V2);
    CHECK(a && c);
    d = max_abs(a, c, (size_t)n * V);
    if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  hf->q8_0 vs gguf->q8_0: %g\n", d);
    CHECKF(d <= 1e-3, "hf->q8_0 vs gguf->q8_0: %g", d);
    free(a), free(b), free(c);
    lc_model *m = load(o32);
    CHECK(m && lc_model_get_info(m)->rope_scaled && !lc_model_get_info(m)->tied_output);
    lc_model_free(m);
    unlink(o32), unlink(o8), unlink(g8);
    return T_PASS;
}

/* GPT-2 byte -> unicode code point */
static int byte_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static void put_cp(char *s, int cp) {
    if (cp < 0x80) s[0] = (char)cp, s[1] = 0;
    else s[0] = (char)(0xc0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3f)), s[2] = 0;
}

static int symlink_into(const char *dir, const char *src_dir, const char *name) {
    char *abs_src = realpath(src_dir, NULL), *a = NULL, *b = NULL;
    int rc = abs_src && asprintf(&a, "%s/%s", abs_src, name) > 0 && asprintf(&b, "%s/%s", dir, name) > 0
                 ? symlink(a, b)
                 : -1;
    free(abs_src), free(a), free(b);
    return rc;
}

/* a HF folder with a tokenizer.json and tokenizer_config.json: tokenizer section, bos/eos
 * from tokenizer_config.json, chat template */
static int test_quantize_hf_tokenizer(void) {
    if (!t_shared("vectors/quant/config.json")) return T_SKIP;
    char src[4096];
    snprintf(src, sizeof src, "%s", t_shared("vectors/quant"));
    const char *dir = tmp_path("hf-tok");
    CHECK(mkdir(dir, 0700) == 0 || access(dir, F_OK) == 0);
    CHECK(symlink_into(dir, src, "config.json") == 0 && symlink_into(dir, src, "model.safetensors") == 0);
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    for (int b = 0; b < 256; b++) {
        char s[4];
        put_cp(s, byte_cp(b));
        json_object_set_new(vocab, s, json_integer(b));
    }
    json_object_set_new(vocab, "he", json_integer(256));
    json_object_set_new(vocab, "ll", json_integer(257));
    json_object_set_new(vocab, "hell", json_integer(258));
    json_array_append_new(merges, json_string("h e"));
    json_array_append_new(merges, json_pack("[ss]", "l", "l"));   /* newer pair form */
    json_array_append_new(merges, json_string("he ll"));
    json_array_append_new(added, json_pack("{sisssb}", "id", 510, "content", "<|begin_of_text|>", "special", 1));
    json_array_append_new(added, json_pack("{sisssb}", "id", 511, "content", "<|eot_id|>", "special", 1));
    json_t *tok = json_pack("{s{ssso so}so}", "model", "type", "BPE", "vocab", vocab, "merges", merges,
                            "added_tokens", added);
    char p[4096];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    CHECK(json_dump_file(tok, p, 0) == 0);
    json_decref(tok);
    json_t *cfg = json_pack("{ssss}", "eos_token", "<|eot_id|>", "chat_template", "{{ bos_token }}hi");
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    CHECK(json_dump_file(cfg, p, 0) == 0);
    json_decref(cfg);
    const char *out = tmp_path("hf-tok.gguf");
    CHECKF(quantize(dir, out, "f16", 0) == LC_OK, "%s", lc_last_error());
    lc_model *m = load(out);
    CHECK(m);
    const lc_tok *t = lc_model_tok(m);
    CHECK(t && lc_tok_n_vocab(t) == 512);
    CHECK(lc_tok_bos(t) == 510 && lc_tok_eos(t) == 511);
    CHECK(lc_model_chat_template(m) && strcmp(lc_model_chat_template(m), "{{ bos_token }}hi") == 0);
    int32_t ids[16];
    int n = lc_tok_encode(t, "hello", 5, LC_TOK_BOS, ids, 16);
    CHECKF(n == 3 && ids[0] == 510 && ids[1] == 258 && ids[2] == 'o', "n=%d", n);   /* byte b has id b here */
    lc_model_free(m);
    lc_gguf g;
    CHECK(lc_gguf_open(out, &g) == LC_OK);
    int64_t *types;
    uint64_t nt;
    CHECK(lc_gguf_get_int_array(&g, "tokenizer.ggml.token_type", &types, &nt) == LC_OK && nt == 512);
    CHECK(types[0] == 1 && types[300] == 5 && types[510] == 3);   /* normal, unused pad, control */
    free(types);
    lc_gguf_close(&g);
    unlink(out);
    return T_PASS;
}

/* ---- failures ---------------------------------------------------------------------- */
static void cancel_midway(void *ud, double f) {
    if (f > 0.2) *(volatile int *)ud = 1;
}

static int test_convert_errors(void) {
    const char *out = tmp_path("err.gguf");
    CHECK(quantize("/nonexistent/model.gguf", out, "q8_0", 0) == LC_ERR_IO && gone(out));
    CHECK(strstr(lc_last_error(), "/nonexistent/model.gguf"));
    CHECK(quantize("/nonexistent/model.gguf", out, "q3_k", 0) == LC_ERR_ARG && strstr(lc_last_error(), "q3_k"));
    lc_make_model_params mp;
    lc_make_model_params_default(&mp);
    mp.shape = "13b";
    CHECK(lc_make_model(out, &mp) == LC_ERR_ARG && strstr(lc_last_error(), "13b") && gone(out));
    mp.shape = "tiny";
    mp.type = "q2_k";
    CHECK(lc_make_model(out, &mp) == LC_ERR_ARG && gone(out));
    mp.type = "q8_0";
    mp.tokenizer = "/nonexistent/tokenizer.json";
    CHECK(lc_make_model(out, &mp) == LC_ERR_IO && strstr(lc_last_error(), "/nonexistent/tokenizer.json") && gone(out));
    const char *q4k = t_shared("vectors/quant/model-q4_k.gguf");
    if (!q4k) return T_PASS;
    char in[4096];
    snprintf(in, sizeof in, "%s", q4k);
    /* already quantized: refused unless allowed */
    CHECK(quantize(in, out, "q8_0", 0) == LC_ERR_UNSUPPORTED && strstr(lc_last_error(), "requantiz") && gone(out));
    CHECK(quantize(in, out, "q8_0", 1) == LC_OK);
    int32_t ids[8];
    int n = seq8(ids), V = 0, V2 = 0;
    float *a = forward_file(out, ids, n, &V), *b = forward_file(in, ids, n, &V2);
    CHECK(a && b && V == V2);
    double d = max_abs(a, b, (size_t)n * V);
    if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  requantized q4_k->q8_0 vs q4_k: %g\n", d);
    CHECKF(d < 0.8, "requantized q4_k->q8_0: %g", d);
    free(a), free(b);
    unlink(out);
    /* same type: copied as is; to F32: dequantized, no flag needed */
    CHECK(quantize(in, out, "q4_k", 0) == LC_OK && same_tensors(out, in));
    CHECK(quantize(in, out, "f32", 0) == LC_OK);
    unlink(out);
    /* output folder missing; cancelled half way: nothing left behind */
    const char *f32 = t_shared("vectors/quant/model-f32.gguf");
    snprintf(in, sizeof in, "%s", f32);
    CHECK(quantize(in, "/nonexistent-dir/x.gguf", "q8_0", 0) == LC_ERR_IO);
    volatile int stop = 0;
    lc_quantize_params qp;
    lc_quantize_params_default(&qp);
    qp.progress = cancel_midway;
    qp.progress_ud = (void *)&stop;
    qp.abort = &stop;
    CHECK(lc_quantize(in, out, "q8_0", &qp) == LC_ERR_CANCELLED && stop && gone(out));
    /* a failed run over an existing file leaves the old file */
    CHECK(quantize(in, out, "q8_0", 0) == LC_OK);
    stop = 0;
    CHECK(lc_quantize(in, out, "q4_0", &qp) == LC_ERR_CANCELLED);
    lc_gguf g;
    CHECK(lc_gguf_open(out, &g) == LC_OK && lc_gguf_tensor(&g, "blk.0.attn_q.weight")->type == LC_TYPE_Q8_0);
    lc_gguf_close(&g);
    unlink(out);
    return T_PASS;
}

const lc_test_case tests_convert[] = {
    { "convert_ftype_names", test_ftype_names },
    { "convert_q4_k_m_rules", test_q4_k_m_rules },
    { "convert_make_model_tiny", test_make_model_tiny },
    { "convert_make_model_tokenizer", test_make_model_tokenizer },
    { "convert_make_model_deterministic", test_make_model_deterministic },
    { "convert_quantize_gguf", test_quantize_gguf },
    { "convert_quantize_hf", test_quantize_hf },
    { "convert_quantize_hf_tokenizer", test_quantize_hf_tokenizer },
    { "convert_errors", test_convert_errors },
    { 0 },
};
