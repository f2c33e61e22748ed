/* test_train.c - the training engine: float64 gradient check of every parameter tensor
 * (base and LoRA) against central differences, float32 vs float64 gradients, overfitting a
 * batch, seed reproducibility and exact resume, checkpoint logits == inference logits,
 * LoRA fine-tuning on chat JSONL with merged == unmerged logits, and bad input. */
#include "test.h"
#include "train_int.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

/* ---- fixtures -------------------------------------------------------------------------- */
static const char *tpath(const char *name) {
    static char buf[8][512];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", t_tmpdir(), name);
    return b;
}

static int write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(s, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* a small Llama-3-style byte-level BPE tokenizer.json: 256 byte tokens, a few merges and
 * the chat special tokens (ids 261..267) */
static const char *tiny_tokenizer(void) {
    static char path[512];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s/tok.json", t_tmpdir());
    json_t *root = json_object(), *model = json_object(), *vocab = json_object(), *merges = json_array();
    json_t *added = json_array();
    int n = 0;
    char sym[256][4];
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int cp = printable ? b : 256 + n++;
        char *s = sym[b];
        if (cp < 0x80) s[0] = (char)cp, s[1] = 0;
        else s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), s[2] = 0;
    }
    for (int b = 0; b < 256; b++) json_object_set_new(vocab, sym[b], json_integer(b));
    static const char *const mg[][2] = { { "\xC4\xA0", "t" }, { "h", "e" }, { "\xC4\xA0t", "he" }, { "i", "n" },
                                         { "a", "n" } };
    for (int i = 0; i < 5; i++) {
        char m[16], t[16];
        snprintf(m, sizeof m, "%s %s", mg[i][0], mg[i][1]);
        snprintf(t, sizeof t, "%s%s", mg[i][0], mg[i][1]);
        json_array_append_new(merges, json_string(m));
        json_object_set_new(vocab, t, json_integer(256 + i));
    }
    static const char *const sp[] = { "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                      "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>" };
    for (int i = 0; i < 7; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "id", json_integer(261 + i));
        json_object_set_new(a, "content", json_string(sp[i]));
        json_object_set_new(a, "special", json_true());
        json_array_append_new(added, a);
    }
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", merges);
    json_object_set_new(root, "model", model);
    json_object_set_new(root, "added_tokens", added);
    int rc = json_dump_file(root, path, 0);
    json_decref(root);
    if (rc) path[0] = 0;
    return path;
}

static uint64_t trng = 0x1234;
static double urand(void) {
    trng = trng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(trng >> 11) / 9007199254740992.0;
}

static void tiny_hp(lc_tr_hp *hp, int tied, int vocab) {
    memset(hp, 0, sizeof *hp);
    hp->dim = 32;
    hp->n_layers = 2;
    hp->n_heads = 4;
    hp->n_kv_heads = 2;
    hp->head_dim = 8;
    hp->ffn_dim = 48;
    hp->n_vocab = vocab;
    hp->n_ctx = 256;
    hp->norm_eps = 1e-5f;
    hp->rope_theta = 10000.0f;
    hp->tied = tied;
    /* llama3 scaling with a small original context so that all three bands occur */
    lc_tr_hp_rope(hp, 1, 8.0f, 1.0f, 4.0f, 64);
}

/* ---- gradient check ----------------------------------------------------------------------- */
typedef struct {
    lc_tr_net_f64 net;
    const double **w;
    const lc_tensor **wt;
    double **gw;
    const double **la, **lb;
    double **gla, **glb;
    double *p, *g;          /* all parameters (base then adapters) and gradients */
    size_t n;
    int n_t;
    size_t off[256];
    int64_t rows[256], cols[256];
    char name[256][96];
} net64;

static void net64_free(net64 *x) {
    free(x->w), free(x->wt), free(x->gw), free(x->la), free(x->lb), free(x->gla), free(x->glb);
    free(x->p), free(x->g);
}

/* a double network with the float model's base weights (trainable) and, when rank > 0,
 * random adapters on every matrix (the base then frozen) */
static int net64_build(net64 *x, lc_tr_model *m, int rank, double dropout) {
    memset(x, 0, sizeof *x);
    const lc_tr_hp *hp = lc_tr_model_hp(m);
    int L = hp->n_layers, ns = LC_TR_N_SLOTS(L), nl = L * LC_LORA_N;
    x->w = calloc(ns, sizeof *x->w);
    x->wt = calloc(ns, sizeof *x->wt);
    x->gw = calloc(ns, sizeof *x->gw);
    x->la = calloc(nl, sizeof *x->la);
    x->lb = calloc(nl, sizeof *x->lb);
    x->gla = calloc(nl, sizeof *x->gla);
    x->glb = calloc(nl, sizeof *x->glb);
    size_t nb = lc_tr_model_n_train(m), na = 0;
    if (rank)
        for (int mm = 0; mm < LC_LORA_N; mm++) {
            int64_t r, c;
            lc_tr_slot_shape(hp, LC_TR_SLOT(0, lc_lora_slot_k(mm)), &r, &c);
            na += (size_t)L * (size_t)(rank * c + r * rank);
        }
    x->n = nb + na;
    x->p = calloc(x->n, sizeof(double));
    x->g = calloc(x->n, sizeof(double));
    const float *fp = lc_tr_model_params(m);
    for (size_t i = 0; i < nb; i++) x->p[i] = fp[i];
    int ti = 0;
    for (int s = 0; s < ns; s++) {
        if (s == LC_TR_SLOT_OUT(L) && hp->tied) continue;
        size_t off;
        int64_t r, c;
        const char *nm = lc_tr_model_tensor(m, ti++, &off, &r, &c);
        x->w[s] = x->p + off;
        if (!rank) {
            x->gw[s] = x->g + off;
            snprintf(x->name[x->n_t], 96, "%s", nm);
            x->off[x->n_t] = off, x->rows[x->n_t] = r, x->cols[x->n_t] = c;
            x->n_t++;
        }
    }
    size_t off = nb;
    for (int l = 0; rank && l < L; l++)
        for (int mm = 0; mm < LC_LORA_N; mm++) {
            int64_t r, c;
            lc_tr_slot_shape(hp, LC_TR_SLOT(l, lc_lora_slot_k(mm)), &r, &c);
            int idx = l * LC_LORA_N + mm;
            for (int ab = 0; ab < 2; ab++) {
                int64_t rr = ab ? r : rank, cc = ab ? rank : c;
                for (int64_t e = 0; e < rr * cc; e++) x->p[off + e] = (urand() * 2 - 1) * 0.3;
                if (ab) x->lb[idx] = x->p + off, x->glb[idx] = x->g + off;
                else x->la[idx] = x->p + off, x->gla[idx] = x->g + off;
                snprintf(x->name[x->n_t], 96, "blk.%d.%s.lora_%c", l, lc_lora_short_name(mm), ab ? 'b' : 'a');
                x->off[x->n_t] = off, x->rows[x->n_t] = rr, x->cols[x->n_t] = cc;
                x->n_t++;
                off += (size_t)(rr * cc);
            }
        }
    x->net.hp = hp;
    x->net.w = x->w;
    x->net.wt = x->wt;
    x->net.gw = x->gw;
    x->net.lora_rank = rank;
    x->net.lora_scale = rank ? 2.0 : 0;
    x->net.lora_dropout = dropout;
    x->net.la = x->la;
    x->net.lb = x->lb;
    x->net.gla = x->gla;
    x->net.glb = x->glb;
    return 0;
}

static double loss64(net64 *x, lc_tr_ws_f64 *ws, const int32_t *tok, const int32_t *tgt, int B, int T, int back,
                     uint64_t seed) {
    double ls = 0;
    int64_t n = 0;
    int64_t cnt = 0;
    for (int i = 0; i < B * T; i++) cnt += tgt[i] >= 0;
    if (lc_tr_forward_f64(&x->net, ws, tok, tgt, B, T, back, 1.0 / cnt, seed, &ls, &n, NULL)) return NAN;
    return ls / n;
}

static int gradcheck_case(int tied, int rank) {
    lc_tr_hp hp;
    tiny_hp(&hp, tied, 40);
    lc_tr_model *m;
    CHECK(lc_tr_model_init(&hp, 7 + tied, &m) == LC_OK);
    /* perturb norms away from 1 so their gradients are generic */
    const lc_tr_hp *mh = lc_tr_model_hp(m);
    for (int i = 0; i < lc_tr_model_n_tensors(m); i++) {
        size_t off;
        int64_t r, c;
        lc_tr_model_tensor(m, i, &off, &r, &c);
        float *p = lc_tr_model_params(m) + off;
        for (int64_t e = 0; e < r * c; e++) p[e] = r == 1 ? (float)(1 + 0.3 * (urand() - 0.5)) : p[e] * 10;
    }
    enum { B = 2, T = 6 };
    int32_t tok[B * T], tgt[B * T];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)(urand() * 40);
        tgt[i] = i % 5 == 3 ? -1 : (int32_t)(urand() * 40);
    }
    net64 x;
    net64_build(&x, m, rank, rank ? 0.25 : 0);
    openblas_set_num_threads(1);
    lc_tr_ws_f64 *ws;
    CHECK(lc_tr_ws_new_f64(&x.net, B, T, 2, &ws) == LC_OK);
    uint64_t seed = rank ? 99 : 0;
    double l0 = loss64(&x, ws, tok, tgt, B, T, 1, seed);
    CHECK(isfinite(l0));
    double worst = 0;
    const double h = 1e-5;
    for (int ti = 0; ti < x.n_t; ti++) {
        size_t n = (size_t)(x.rows[ti] * x.cols[ti]);
        int samples = n < 24 ? (int)n : 24;
        for (int s = 0; s < samples; s++) {
            size_t e = x.off[ti] + (n <= 24 ? (size_t)s : (size_t)(urand() * n));
            double keep = x.p[e];
            x.p[e] = keep + h;
            double lp = loss64(&x, ws, tok, tgt, B, T, 0, seed);
            x.p[e] = keep - h;
            double lm = loss64(&x, ws, tok, tgt, B, T, 0, seed);
            x.p[e] = keep;
            double fd = (lp - lm) / (2 * h), an = x.g[e];
            double err = fabs(fd - an) / (1e-6 + fabs(fd) + fabs(an));
            if (fabs(fd - an) > 1e-8 && err > worst) worst = err;
            CHECKF(fabs(fd - an) <= 1e-8 + 1e-5 * (fabs(fd) + fabs(an)), "%s[%zu]: analytic %.10g, numeric %.10g",
                   x.name[ti], e - x.off[ti], an, fd);
        }
    }
    /* the float32 path gives the same gradients (base weights only: the f32 model has no random adapters) */
    if (!rank) {
        lc_tr_net_f32 *fn = lc_tr_model_net(m);
        lc_tr_ws_f32 *w32;
        CHECK(lc_tr_ws_new_f32(fn, B, T, 2, &w32) == LC_OK);
        memset(lc_tr_model_grads(m), 0, lc_tr_model_n_train(m) * sizeof(float));
        double ls = 0;
        int64_t cnt = 0, nt = 0;
        for (int i = 0; i < B * T; i++) cnt += tgt[i] >= 0;
        CHECK(lc_tr_forward_f32(fn, w32, tok, tgt, B, T, 1, 1.0 / cnt, 0, &ls, &nt, NULL) == LC_OK);
        CHECKF(fabs(ls / nt - l0) < 1e-5, "f32 loss %.8f vs f64 %.8f", ls / nt, l0);
        const float *g32 = lc_tr_model_grads(m);
        for (int ti = 0; ti < x.n_t; ti++) {
            double num = 0, den = 0;
            for (size_t e = x.off[ti]; e < x.off[ti] + (size_t)(x.rows[ti] * x.cols[ti]); e++) {
                num += (g32[e] - x.g[e]) * (g32[e] - x.g[e]);
                den += x.g[e] * x.g[e];
            }
            CHECKF(sqrt(num) <= 1e-3 * sqrt(den) + 1e-9, "%s: f32 gradient differs from f64 by %.3g (relative)",
                   x.name[ti], sqrt(num / (den + 1e-30)));
        }
        lc_tr_ws_free_f32(w32);
    }
    (void)mh;
    lc_tr_ws_free_f64(ws);
    net64_free(&x);
    lc_tr_model_free(m);
    return T_PASS;
}

/* Tolerance: float64 throughout, h = 1e-5 central differences: truncation ~h^2 and rounding
 * ~1e-16/h keep the error near 1e-10, so |analytic - numeric| <= 1e-8 + 1e-5 * (|a| + |n|)
 * has a wide margin. Every tensor is sampled (24 elements, all of small ones); the float32
 * path must match the float64 gradient within 1e-3 relative L2 error per tensor. */
static int test_gradcheck_untied(void) { return gradcheck_case(0, 0); }
static int test_gradcheck_tied(void) { return gradcheck_case(1, 0); }
static int test_gradcheck_lora(void) { return gradcheck_case(0, 3); }

/* ---- overfit ------------------------------------------------------------------------------ */
static int test_overfit(void) {
    lc_tr_hp hp;
    tiny_hp(&hp, 1, 40);
    lc_tr_model *m;
    CHECK(lc_tr_model_init(&hp, 3, &m) == LC_OK);
    enum { B = 2, T = 16 };
    int32_t tok[B * T], tgt[B * T];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(urand() * 40);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) tgt[b * T + t] = t + 1 < T ? tok[b * T + t + 1] : (int32_t)(urand() * 40);
    double loss = 0, first = 0;
    for (int s = 0; s < 300; s++) {
        CHECK(lc_tr_model_train_batch(m, tok, tgt, B, T, 1e-2f, 2, &loss) == LC_OK);
        if (!s) first = loss;
        if (loss < 0.01) break;
    }
    CHECKF(loss < 0.05, "loss %.4f after training (started at %.4f)", loss, first);
    lc_tr_model_free(m);
    return T_PASS;
}

/* ---- runs: reproducibility, resume, checkpoint logits ---------------------------------------- */
static const char *corpus(void) {
    static char path[512];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s/corpus.txt", t_tmpdir());
    static const char *const words[] = { "the", "cat", "sat", "on", "a", "mat", "and", "then", "in", "an",
                                         "hat", "ran", "to", "the", "tin", "man" };
    char *buf = malloc(20000);
    size_t n = 0;
    uint64_t r = 42;
    while (n < 6000) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        const char *w = words[(r >> 33) % 16];
        n += (size_t)sprintf(buf + n, "%s%s", w, (r >> 20) % 9 == 0 ? ".\n" : " ");
    }
    if (write_text(path, buf, n)) path[0] = 0;
    free(buf);
    return path;
}

static void small_run(lc_train_opts *o, const char *const *data, float *log, int steps) {
    lc_train_opts_default(o);
    o->tokenizer_path = tiny_tokenizer();
    o->dim = 32;
    o->n_layers = 2;
    o->n_heads = 4;
    o->n_kv_heads = 2;
    o->ffn_dim = 48;
    o->ctx = 24;
    o->tied = 0;
    o->rope_scaled = 1;
    o->data = data;
    o->n_data = 1;
    o->steps = steps;
    o->batch = 3;
    o->accum = 2;
    o->lr = 3e-3f;
    o->min_lr = 3e-4f;
    o->warmup = 3;
    o->threads = 2;
    o->val_every = 5;
    o->val_batches = 2;
    o->quiet = 1;
    o->loss_log = log;
}

static int test_seed_and_resume(void) {
    const char *data[1] = { corpus() };
    enum { N = 12 };
    float a[N], b[N], c[N], d[N];
    lc_train_opts o;
    small_run(&o, data, a, N);
    o.out_path = tpath("run_a.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    CHECK(a[N - 1] < a[0]);
    CHECK(isfinite(o.final_val_loss));
    small_run(&o, data, b, N);
    o.out_path = tpath("run_b.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    CHECKF(memcmp(a, b, sizeof a) == 0, "same seed, different losses");
    small_run(&o, data, d, N);
    o.seed = 4242;
    o.out_path = tpath("run_d.gguf");
    CHECK(lc_train_run(&o) == LC_OK);
    CHECK(memcmp(a, d, sizeof a) != 0);
    /* interrupted at N/2, resumed */
    memset(c, 0, sizeof c);
    small_run(&o, data, c, N);
    o.stop_at = N / 2;
    o.ckpt_path = tpath("half.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    CHECK(access(tpath("half.gguf"), F_OK) == 0);
    small_run(&o, data, c, N);
    o.resume_path = tpath("half.gguf");
    o.out_path = tpath("run_c.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    for (int i = 0; i < N; i++) CHECKF(a[i] == c[i], "step %d: straight %.9g, resumed %.9g", i + 1, a[i], c[i]);
    return T_PASS;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* logits of a GGUF through the inference engine */
static const char *g_infer_lora; /* adapter applied at load time by infer_logits */

static int infer_logits(const char *path, const int32_t *tok, int n, float *out) {
    lc_model *m;
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = 2;
    mp.lora = g_infer_lora;
    if (lc_model_load(path, &mp, &m)) return -1;
    lc_ctx *c;
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = n;
    cp.n_threads = 2;
    int rc = lc_ctx_new(m, &cp, &c);
    int32_t pos[64], seq[64];
    int8_t want[64];
    for (int i = 0; i < n; i++) pos[i] = i, seq[i] = 0, want[i] = 1;
    lc_batch b = { .n_tokens = n, .token = tok, .pos = pos, .seq_id = seq, .want_logits = want };
    if (!rc) rc = lc_ctx_decode(c, &b);
    int V = lc_model_get_info(m)->n_vocab;
    for (int i = 0; !rc && i < n; i++) memcpy(out + (size_t)i * V, lc_ctx_logits(c, i), V * sizeof(float));
    lc_ctx_free(c);
    lc_model_free(m);
    return rc;
}

static int test_checkpoint_logits(void) {
    const char *data[1] = { corpus() };
    lc_train_opts o;
    small_run(&o, data, NULL, 6);
    o.out_path = tpath("ck_logits.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    for (int f16 = 0; f16 < 2; f16++) {
        const char *path = o.out_path;
        if (f16) { /* the same weights stored as F16 also load, and agree with their own training view */
            lc_tr_model *tm;
            CHECK(lc_tr_model_load(o.out_path, 0, 0, 0, 0, 1, &tm) == LC_OK);
            path = tpath("ck_logits16.gguf");
            CHECKF(lc_tr_model_save(tm, path, 1, o.out_path, NULL) == LC_OK, "%s", lc_last_error());
            lc_tr_model_free(tm);
        }
        lc_tr_model *tm;
        CHECKF(lc_tr_model_load(path, 0, 0, 0, 0, 1, &tm) == LC_OK, "%s", lc_last_error());
        const lc_tr_hp *hp = lc_tr_model_hp(tm);
        CHECK(hp->rope_scaled && !hp->tied);
        int V = hp->n_vocab;
        enum { T = 20 };
        int32_t tok[T];
        for (int i = 0; i < T; i++) tok[i] = i == 0 ? 261 : (int32_t)(urand() * 256);
        float *lt = malloc(sizeof(float) * T * V), *li = malloc(sizeof(float) * T * V);
        CHECK(lc_tr_model_logits(tm, tok, 1, T, 2, lt) == LC_OK);
        CHECKF(infer_logits(path, tok, T, li) == 0, "%s", lc_last_error());
        double d = max_diff(lt, li, (size_t)T * V);
        CHECKF(d < 1e-4, "training and inference logits differ by %g", d);
        free(lt);
        free(li);
        lc_tr_model_free(tm);
    }
    return T_PASS;
}

/* ---- LoRA ----------------------------------------------------------------------------------- */
static const char *chat_jsonl(int n_bad) {
    static char path[2][512];
    char *p = path[n_bad ? 1 : 0];
    snprintf(p, 512, "%s/chat%d.jsonl", t_tmpdir(), n_bad);
    FILE *f = fopen(p, "w");
    if (!f) return NULL;
    for (int i = 0; i < 40; i++) {
        int a = i % 7, b = (i * 3) % 5;
        if (n_bad && i == 5) fprintf(f, "{\"messages\": \"not a list\"}\n");
        if (n_bad && i == 9) fprintf(f, "this is not json\n");
        if (n_bad && i == 12) fprintf(f, "{\"messages\":[{\"role\":\"user\",\"content\":\"no answer\"}]}\n");
        fprintf(f, "{\"messages\":[{\"role\":\"system\",\"content\":\"add\"},{\"role\":\"user\",\"content\":\"%d+%d\"},"
                   "{\"role\":\"assistant\",\"content\":\"the %d\"}]}\n", a, b, a + b);
    }
    fclose(f);
    return p;
}

static int test_chat_mask(void) {
    lc_tok *t;
    CHECK(lc_tok_load(tiny_tokenizer(), &t) == LC_OK);
    const char *js = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"in an\"},"
                     "{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"the\"}]}";
    int32_t *ids;
    uint8_t *mask;
    int n;
    CHECKF(lc_chat_tokenize_masked(t, js, strlen(js), &ids, &mask, &n) == LC_OK, "%s", lc_last_error());
    /* the learned tokens decode to exactly the two answers with their <|eot_id|> */
    char got[256] = "";
    size_t u = 0;
    for (int i = 0; i < n; i++)
        if (mask[i]) u += (size_t)lc_tok_piece(t, ids[i], got + u, sizeof got - u - 1);
    got[u] = 0;
    CHECKF(strcmp(got, "in an<|eot_id|>the<|eot_id|>") == 0, "masked text '%s'", got);
    free(ids);
    free(mask);
    lc_tok_free(t);
    return T_PASS;
}

static int test_lora_finetune_merge(void) {
    /* a base model */
    lc_tr_hp hp;
    tiny_hp(&hp, 0, 268);
    hp.rope_theta = 500000.0f;
    lc_tr_hp_rope(&hp, 1, 8.0f, 1.0f, 4.0f, 8192);
    lc_tr_model *bm;
    CHECK(lc_tr_model_init(&hp, 11, &bm) == LC_OK);
    /* a random base has tiny logits (std 0.02 head) that adapters on the blocks cannot
     * scale up; give it a unit-scale head as a trained model would have */
    for (int i = 0; i < lc_tr_model_n_tensors(bm); i++) {
        size_t off;
        int64_t r, c;
        if (strcmp(lc_tr_model_tensor(bm, i, &off, &r, &c), "output.weight") != 0) continue;
        for (int64_t e = 0; e < r * c; e++) lc_tr_model_params(bm)[off + e] *= 50;
    }
    const char *base = tpath("lora_base.gguf");
    CHECKF(lc_tr_model_save(bm, base, 0, tiny_tokenizer(), NULL) == LC_OK, "%s", lc_last_error());
    lc_tr_model_free(bm);
    /* fine-tune adapters */
    const char *data[1] = { chat_jsonl(0) };
    enum { N = 60 };
    float log[N];
    lc_train_opts o;
    lc_train_opts_default(&o);
    o.mode = LC_TRAIN_FINETUNE;
    o.model_path = base;
    o.data = data;
    o.n_data = 1;
    o.ctx = 160;
    o.steps = N;
    o.batch = 4;
    o.lr = 3e-2f;
    o.min_lr = 3e-3f;
    o.warmup = 2;
    o.weight_decay = 0;
    o.threads = 2;
    o.lora_rank = 4;
    o.lora_alpha = 8;
    o.lora_dropout = 0.05f;
    o.lora_targets = lc_lora_parse_targets("all");
    o.val_frac = 0.1f;
    o.val_every = 0;
    o.quiet = 1;
    o.loss_log = log;
    o.out_path = tpath("adapter.gguf");
    CHECKF(lc_train_run(&o) == LC_OK, "%s", lc_last_error());
    double first = (log[0] + log[1] + log[2]) / 3, last = (log[N - 1] + log[N - 2] + log[N - 3]) / 3;
    CHECKF(last < 0.5 * first && o.final_val_loss < 0.5 * first, "LoRA loss %.3f -> %.3f (validation %.3f)", first, last, o.final_val_loss);
    CHECK(o.n_trainable < o.n_params / 4);
    /* merged (inference on a merged GGUF) == unmerged (training forward with the adapter) */
    const char *merged = tpath("merged.gguf");
    CHECKF(lc_lora_merge(base, o.out_path, 1.0f, LC_TYPE_F32, merged) == LC_OK, "%s", lc_last_error());
    lc_tr_model *um;
    CHECK(lc_tr_model_load(base, 4, 8, 0, o.lora_targets, 1, &um) == LC_OK);
    CHECKF(lc_tr_model_load_adapter(um, o.out_path) == LC_OK, "%s", lc_last_error());
    enum { T = 24 };
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(urand() * 268);
    int V = 268;
    float *lu = malloc(sizeof(float) * T * V), *lm = malloc(sizeof(float) * T * V), *lb = malloc(sizeof(float) * T * V);
    CHECK(lc_tr_model_logits(um, tok, 1, T, 2, lu) == LC_OK);
    CHECKF(infer_logits(merged, tok, T, lm) == 0, "%s", lc_last_error());
    CHECK(infer_logits(base, tok, T, lb) == 0);
    double d = max_diff(lu, lm, (size_t)T * V), moved = max_diff(lb, lm, (size_t)T * V);
    CHECKF(d < 1e-4, "merged and unmerged logits differ by %g", d);
    CHECKF(moved > 1e-3, "the adapter changed nothing (%g)", moved);
    /* the adapter applied at load time (llamac run --lora) == the merged file */
    float *ll = malloc(sizeof(float) * T * V);
    g_infer_lora = o.out_path;
    int lrc = infer_logits(base, tok, T, ll);
    g_infer_lora = NULL;
    CHECKF(lrc == 0, "%s", lc_last_error());
    d = max_diff(ll, lm, (size_t)T * V);
    free(ll);
    CHECKF(d < 1e-5, "--lora at load and merge-lora differ by %g", d);
    /* lc_lora_merge_tensor on its own, as model.c would use it */
    lc_model *im;
    CHECK(lc_model_load(base, NULL, &im) == LC_OK);
    lc_lora *lo;
    CHECKF(lc_lora_load(o.out_path, lc_model_get_info(im), &lo) == LC_OK, "%s", lc_last_error());
    CHECK(lc_lora_has(lo, "blk.1.ffn_down.weight") && !lc_lora_has(lo, "output.weight"));
    CHECK(lc_lora_rank(lo) == 4 && lc_lora_alpha(lo) == 8.0f);
    lc_lora_free(lo);
    lc_model_free(im);
    free(lu);
    free(lm);
    free(lb);
    lc_tr_model_free(um);
    return T_PASS;
}

/* ---- bad input ---------------------------------------------------------------------------- */
static int test_bad_corpus(void) {
    lc_train_opts o;
    const char *empty = tpath("empty.txt"), *bin = tpath("latin1.txt");
    CHECK(write_text(empty, "", 0) == 0);
    CHECK(write_text(bin, "caf\xe9 au lait, tr\xe8s bien\n", 24) == 0);
    const char *d1[1] = { empty }, *d2[1] = { bin };
    small_run(&o, d1, NULL, 2);
    o.out_path = tpath("never.gguf");
    CHECK(lc_train_run(&o) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "empty") != NULL, "%s", lc_last_error());
    small_run(&o, d2, NULL, 2);
    o.out_path = tpath("never.gguf");
    CHECK(lc_train_run(&o) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "UTF-8") != NULL, "%s", lc_last_error());
    CHECK(access(tpath("never.gguf"), F_OK) != 0);
    return T_PASS;
}

static int test_bad_jsonl(void) {
    lc_tok *t;
    CHECK(lc_tok_load(tiny_tokenizer(), &t) == LC_OK);
    const char *p[1] = { chat_jsonl(1) };
    lc_tr_data d;
    CHECKF(lc_tr_data_load(&d, LC_TRAIN_FINETUNE, t, p, 1, 0.1f, 160) == LC_OK, "%s", lc_last_error());
    CHECK(d.n_ex == 40 && d.n_skipped == 3 && d.n_lines == 43);
    char rep[1400];
    lc_tr_data_skip_report(&d, rep, sizeof rep);
    CHECKF(strstr(rep, "skipped 3 of 43 lines") && strstr(rep, ":6:") && strstr(rep, ":15: no assistant"), "%s", rep);
    lc_tr_data_free(&d);
    /* all lines invalid: an error */
    const char *bad = tpath("allbad.jsonl");
    CHECK(write_text(bad, "[1,2]\n{\"x\":1}\n", 14) == 0);
    p[0] = bad;
    CHECK(lc_tr_data_load(&d, LC_TRAIN_FINETUNE, t, p, 1, 0.1f, 160) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "no valid conversation in 2 lines"), "%s", lc_last_error());
    lc_tok_free(t);
    return T_PASS;
}

static int test_lora_wrong_model(void) {
    const char *adapter = tpath("adapter.gguf");
    if (access(adapter, F_OK) != 0) return T_SKIP;   /* made by the LoRA test */
    lc_tr_hp hp;
    tiny_hp(&hp, 1, 268);
    hp.dim = 48;
    hp.head_dim = 12;
    lc_tr_hp_rope(&hp, 0, 0, 0, 0, 0);
    lc_tr_model *m;
    CHECK(lc_tr_model_init(&hp, 5, &m) == LC_OK);
    const char *other = tpath("other.gguf");
    CHECK(lc_tr_model_save(m, other, 0, tiny_tokenizer(), NULL) == LC_OK);
    lc_tr_model_free(m);
    lc_model *im;
    CHECK(lc_model_load(other, NULL, &im) == LC_OK);
    lc_lora *lo = NULL;
    CHECK(lc_lora_load(adapter, lc_model_get_info(im), &lo) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "different model"), "%s", lc_last_error());
    lc_model_free(im);
    CHECK(lc_lora_merge(other, adapter, 1, LC_TYPE_F32, tpath("bad_merge.gguf")) == LC_ERR_FORMAT);
    CHECK(access(tpath("bad_merge.gguf"), F_OK) != 0);
    /* a model file is not an adapter */
    CHECK(lc_lora_merge(other, other, 1, LC_TYPE_F32, tpath("bad_merge.gguf")) == LC_ERR_FORMAT);
    return T_PASS;
}

static int test_nan_stops(void) {
    const char *data[1] = { corpus() };
    lc_train_opts o;
    small_run(&o, data, NULL, 6);
    o.debug_nan_step = 3;
    o.ckpt_path = tpath("nan_ck.gguf");
    o.ckpt_every = 1;
    o.out_path = tpath("nan_out.gguf");
    CHECK(lc_train_run(&o) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "NaN at step 3"), "%s", lc_last_error());
    CHECK(access(o.out_path, F_OK) != 0);
    /* the last checkpoint is the good one of step 2 */
    lc_gguf g;
    CHECK(lc_gguf_open(o.ckpt_path, &g) == LC_OK);
    int64_t step = 0;
    CHECK(lc_gguf_get_int(&g, "train.step", &step) == LC_OK);
    lc_gguf_close(&g);
    CHECK(step == 2);
    return T_PASS;
}

const lc_test_case tests_train[] = {
    { "train_gradcheck_untied", test_gradcheck_untied },
    { "train_gradcheck_tied", test_gradcheck_tied },
    { "train_gradcheck_lora", test_gradcheck_lora },
    { "train_overfit", test_overfit },
    { "train_seed_and_resume", test_seed_and_resume },
    { "train_checkpoint_logits", test_checkpoint_logits },
    { "train_chat_mask", test_chat_mask },
    { "train_lora_finetune_merge", test_lora_finetune_merge },
    { "train_lora_wrong_model", test_lora_wrong_model },
    { "train_bad_corpus", test_bad_corpus },
    { "train_bad_jsonl", test_bad_jsonl },
    { "train_nan_stops", test_nan_stops },
    { 0 },
};
