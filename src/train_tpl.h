/* train_tpl.h - the type-generic training core, instantiated for float (training) and
 * double (the gradient-check path) by train_f32.c / train_f64.c. Included by train.h with
 * LC_TR_R (the real type) and LC_TR_S (name suffixer) set for the declarations; with
 * LC_TR_IMPL also defined it expands to the implementation. Not include-guarded on purpose. */

/* ---- declarations ------------------------------------------------------------------ */
#ifndef LC_TR_IMPL

/* A view of a network: dense weights (row-major (rows = out, cols = in)), or a source
 * tensor of any type dequantized at use; gradient buffers (NULL = frozen); LoRA adapters. */
typedef struct LC_TR_S(lc_tr_net) {
    const lc_tr_hp *hp;
    const LC_TR_R **w;          /* [n_slots] dense weights, NULL: use wt */
    const lc_tensor **wt;       /* [n_slots] source tensor (matrices only) */
    LC_TR_R **gw;               /* [n_slots] gradient accumulators or NULL */
    int lora_rank;              /* 0: no adapters */
    double lora_scale;          /* alpha / rank */
    double lora_dropout;        /* applied to the adapter input when drop_seed != 0 */
    const LC_TR_R **la, **lb;   /* [n_layers * LC_LORA_N]: A (r, in), B (out, r) or NULL */
    LC_TR_R **gla, **glb;       /* gradients of A and B (NULL: frozen) */
} LC_TR_S(lc_tr_net);

typedef struct LC_TR_S(lc_tr_ws) LC_TR_S(lc_tr_ws);

/* activations and scratch for up to B sequences of T tokens */
int LC_TR_S(lc_tr_ws_new)(const LC_TR_S(lc_tr_net) *net, int B, int T, int n_threads, LC_TR_S(lc_tr_ws) **out);
void LC_TR_S(lc_tr_ws_free)(LC_TR_S(lc_tr_ws) *ws);

/* Runs B sequences of T tokens (tok, (B, T); positions 0..T-1 each). tgt (B, T): next-token
 * targets, -1 = no loss there (NULL: no loss). Adds the summed cross-entropy to *loss_sum and
 * the count of targets to *n_tgt. backward != 0: accumulates grad_scale * d(loss_sum)/dθ into
 * the net's gradient buffers (caller zeroes them). drop_seed != 0 enables LoRA dropout with
 * a mask derived from the seed. logits (optional): (B*T, n_vocab) float output. */
int LC_TR_S(lc_tr_forward)(const LC_TR_S(lc_tr_net) *net, LC_TR_S(lc_tr_ws) *ws, const int32_t *tok,
                           const int32_t *tgt, int B, int T, int backward, double grad_scale, uint64_t drop_seed,
                           double *loss_sum, int64_t *n_tgt, float *logits);

#else
/* ---- implementation ----------------------------------------------------------------- */
#include <cblas.h>
#include <math.h>

#define R LC_TR_R
#define S LC_TR_S
typedef S(lc_tr_net) net_t;
typedef S(lc_tr_ws) ws_t;

#define CE_CHUNK 64   /* rows of logits computed at a time */

struct S(lc_tr_ws) {
    int B, T;                 /* capacity */
    lc_pool *pool;
    const net_t *net;
    R *xs;                    /* (L+1, N, dim) residual stream at each layer's input */
    R *xn1, *rs1, *q, *k, *v, *att, *ao, *xmid, *xn2, *rs2, *g, *u, *h; /* per layer */
    R *xnf, *rsf, *dxnf;      /* final norm */
    R **lx, **lh;             /* [L*LC_LORA_N] dropped adapter input (N, in) or NULL; A.x (N, r) */
    R *dx, *dxm, *dxn, *dq, *dk, *dv, *dao, *dg, *du, *dh, *dlh, *ldx;
    R *cosv, *sinv;           /* (T, head_dim/2) */
    R *dps;                   /* (T, T) attention backward scratch */
    R *wbuf;                  /* dequantized matrix */
    float *rowf;              /* one dequantized row */
    R *lg, *xc, *dxc;         /* CE chunk: logits (CE_CHUNK, V), rows (CE_CHUNK, dim), grads */
    int32_t *crow, *ctgt;     /* CE chunk: row index, target */
    double *closs;            /* CE chunk: loss per row */
    /* current call, read by the thread tasks */
    int cB, cT, cl;
    double cscale;
    int cback, cn;
};

static inline double rexp(double x) { return exp(x); }
static inline float rexpf(float x) { return expf(x); }
#define REXP(x) (sizeof(R) == sizeof(float) ? (R)rexpf((float)(x)) : (R)rexp((double)(x)))

static void gemm(int ta, int tb, int M, int N, int K, R alpha, const R *A, int lda, const R *B, int ldb, R beta,
                 R *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
#if LC_TR_DOUBLE
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
#endif
}

/* ---- workspace ---------------------------------------------------------------------- */
static R *ralloc(size_t n, bool *ok) {
    if (!*ok) return NULL;
    size_t bytes;
    if (!lc_mul_ok(n ? n : 1, sizeof(R), &bytes)) {
        *ok = false;
        return NULL;
    }
    R *p = calloc(1, bytes);
    if (!p) *ok = false;
    return p;
}

void S(lc_tr_ws_free)(ws_t *ws) {
    if (!ws) return;
    const lc_tr_hp *hp = ws->net->hp;
    R **all[] = { &ws->xs, &ws->xn1, &ws->rs1, &ws->q, &ws->k, &ws->v, &ws->att, &ws->ao, &ws->xmid, &ws->xn2,
                  &ws->rs2, &ws->g, &ws->u, &ws->h, &ws->xnf, &ws->rsf, &ws->dxnf, &ws->dx, &ws->dxm, &ws->dxn,
                  &ws->dq, &ws->dk, &ws->dv, &ws->dao, &ws->dg, &ws->du, &ws->dh, &ws->dlh, &ws->ldx,
                  &ws->cosv, &ws->sinv, &ws->dps, &ws->wbuf, &ws->lg, &ws->xc, &ws->dxc };
    for (size_t i = 0; i < LC_ARRAY_LEN(all); i++) free(*all[i]);
    if (ws->lx)
        for (int i = 0; i < hp->n_layers * LC_LORA_N; i++) free(ws->lx[i]), free(ws->lh[i]);
    free(ws->lx);
    free(ws->lh);
    free(ws->rowf);
    free(ws->crow);
    free(ws->ctgt);
    free(ws->closs);
    lc_pool_free(ws->pool);
    free(ws);
}

static size_t max_matrix(const net_t *net) {
    const lc_tr_hp *hp = net->hp;
    size_t mx = 0;
    for (int s = 0; s < LC_TR_N_SLOTS(hp->n_layers); s++) {
        int64_t r, c;
        lc_tr_slot_shape(hp, s, &r, &c);
        if (r > 1 && (size_t)(r * c) > mx) mx = (size_t)(r * c);
    }
    return mx;
}

static void lora_dims(const lc_tr_hp *hp, int mm, int *in, int *out) {
    int64_t r, c;
    lc_tr_slot_shape(hp, LC_TR_SLOT(0, lc_lora_slot_k(mm)), &r, &c);
    *in = (int)c;
    *out = (int)r;
}

int S(lc_tr_ws_new)(const net_t *net, int B, int T, int n_threads, ws_t **out) {
    *out = NULL;
    const lc_tr_hp *hp = net->hp;
    if (B < 1 || T < 1) return lc_fail(LC_ERR_ARG, "train: batch %d x %d tokens", B, T);
    ws_t *ws = calloc(1, sizeof *ws);
    if (!ws) return lc_fail(LC_ERR_NOMEM, "train: no memory");
    ws->net = net;
    ws->B = B;
    ws->T = T;
    int rc = lc_pool_new(n_threads > 0 ? n_threads : 1, &ws->pool);
    if (rc) {
        free(ws);
        return rc;
    }
    size_t N = (size_t)B * T, L = (size_t)hp->n_layers, dim = (size_t)hp->dim;
    size_t qd = (size_t)hp->n_heads * hp->head_dim, kvd = (size_t)hp->n_kv_heads * hp->head_dim;
    size_t ffn = (size_t)hp->ffn_dim, V = (size_t)hp->n_vocab, half = (size_t)hp->head_dim / 2;
    bool ok = true;
    if (N > (size_t)1 << 26) ok = false;
    ws->xs = ralloc((L + 1) * N * dim, &ok);
    ws->xn1 = ralloc(L * N * dim, &ok);
    ws->rs1 = ralloc(L * N, &ok);
    ws->q = ralloc(L * N * qd, &ok);
    ws->k = ralloc(L * N * kvd, &ok);
    ws->v = ralloc(L * N * kvd, &ok);
    ws->att = ralloc(L * (size_t)B * hp->n_heads * T * T, &ok);
    ws->ao = ralloc(L * N * qd, &ok);
    ws->xmid = ralloc(L * N * dim, &ok);
    ws->xn2 = ralloc(L * N * dim, &ok);
    ws->rs2 = ralloc(L * N, &ok);
    ws->g = ralloc(L * N * ffn, &ok);
    ws->u = ralloc(L * N * ffn, &ok);
    ws->h = ralloc(L * N * ffn, &ok);
    ws->xnf = ralloc(N * dim, &ok);
    ws->rsf = ralloc(N, &ok);
    ws->dxnf = ralloc(N * dim, &ok);
    size_t wide = LC_MAX(LC_MAX(dim, ffn), qd);
    ws->dx = ralloc(N * dim, &ok);
    ws->dxm = ralloc(N * dim, &ok);
    ws->dxn = ralloc(N * dim, &ok);
    ws->dq = ralloc(N * qd, &ok);
    ws->dk = ralloc(N * kvd, &ok);
    ws->dv = ralloc(N * kvd, &ok);
    ws->dao = ralloc(N * qd, &ok);
    ws->dg = ralloc(N * ffn, &ok);
    ws->du = ralloc(N * ffn, &ok);
    ws->dh = ralloc(N * ffn, &ok);
    ws->ldx = ralloc(N * wide, &ok);
    ws->dlh = ralloc(N * (size_t)LC_MAX(net->lora_rank, 1), &ok);
    ws->cosv = ralloc((size_t)T * half, &ok);
    ws->sinv = ralloc((size_t)T * half, &ok);
    ws->dps = ralloc((size_t)T * T, &ok);
    /* dense scratch only when some matrix is not dense */
    bool need_wbuf = false;
    for (int s = 0; s < LC_TR_N_SLOTS(hp->n_layers); s++)
        if (!net->w[s] && net->wt[s]) need_wbuf = true;
    ws->wbuf = need_wbuf ? ralloc(max_matrix(net), &ok) : NULL;
    ws->rowf = malloc(sizeof(float) * LC_MAX(wide, V) + 64);
    if (!ws->rowf) ok = false;
    ws->lg = ralloc((size_t)CE_CHUNK * V, &ok);
    ws->xc = ralloc((size_t)CE_CHUNK * dim, &ok);
    ws->dxc = ralloc((size_t)CE_CHUNK * dim, &ok);
    ws->crow = malloc(CE_CHUNK * sizeof(int32_t));
    ws->ctgt = malloc(CE_CHUNK * sizeof(int32_t));
    ws->closs = malloc(CE_CHUNK * sizeof(double));
    if (!ws->crow || !ws->ctgt || !ws->closs) ok = false;
    if (ok && net->lora_rank > 0) {
        ws->lx = calloc(L * LC_LORA_N, sizeof *ws->lx);
        ws->lh = calloc(L * LC_LORA_N, sizeof *ws->lh);
        if (!ws->lx || !ws->lh) ok = false;
        for (size_t i = 0; ok && i < L * LC_LORA_N; i++) {
            if (!net->la[i]) continue;
            int in, o;
            lora_dims(hp, (int)(i % LC_LORA_N), &in, &o);
            ws->lh[i] = ralloc(N * (size_t)net->lora_rank, &ok);
            if (net->lora_dropout > 0) ws->lx[i] = ralloc(N * (size_t)in, &ok);
        }
    }
    if (!ok) {
        S(lc_tr_ws_free)(ws);
        return lc_fail(LC_ERR_NOMEM, "train: cannot allocate activations for %d x %d tokens", B, T);
    }
    /* RoPE tables, computed as the inference code does (double angle, rounded) */
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < half; i++) {
            double a = (double)t * hp->inv_freq[i];
            ws->cosv[(size_t)t * half + i] = (R)cos(a);
            ws->sinv[(size_t)t * half + i] = (R)sin(a);
        }
    *out = ws;
    return LC_OK;
}

/* ---- weights ------------------------------------------------------------------------ */
/* dense (rows, cols) view of slot s; dequantizes into ws->wbuf when needed */
static const R *weight_of(ws_t *ws, int s) {
    const net_t *net = ws->net;
    if (net->w[s]) return net->w[s];
    const lc_tensor *t = net->wt[s];
    LC_ASSERT(t);
#if !LC_TR_DOUBLE
    if (t->type == LC_TYPE_F32) return (const R *)t->data;
#endif
    int64_t cols = t->ne[0], rows = t->ne[1];
    size_t rb;
    lc_type_row_bytes(t->type, cols, &rb);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = (const uint8_t *)t->data + (size_t)r * rb;
#if LC_TR_DOUBLE
        lc_dequant_row(t->type, src, ws->rowf, cols);
        for (int64_t c = 0; c < cols; c++) ws->wbuf[r * cols + c] = ws->rowf[c];
#else
        lc_dequant_row(t->type, src, ws->wbuf + r * cols, cols);
#endif
    }
    return ws->wbuf;
}

static void embd_row(ws_t *ws, int32_t tok, R *dst) {
    const net_t *net = ws->net;
    int dim = net->hp->dim;
    if (net->w[LC_TR_SLOT_EMBD]) {
        memcpy(dst, net->w[LC_TR_SLOT_EMBD] + (size_t)tok * dim, (size_t)dim * sizeof(R));
        return;
    }
    const lc_tensor *t = net->wt[LC_TR_SLOT_EMBD];
    size_t rb;
    lc_type_row_bytes(t->type, dim, &rb);
    lc_dequant_row(t->type, (const uint8_t *)t->data + (size_t)tok * rb, ws->rowf, dim);
    for (int i = 0; i < dim; i++) dst[i] = ws->rowf[i];
}

/* ---- LoRA dropout mask: a hash of (seed, adapter, element), no state -------------------- */
static inline int lora_keep(uint64_t seed, int idx, size_t e, double p) {
    uint64_t z = seed ^ ((uint64_t)(idx + 1) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)e * 0xD1B54A32D192ED03ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) >= p;
}

/* ---- linear layers with optional adapters -------------------------------------------- */
/* y (N, out) = x (N, in) . W^T  (+ scale * (drop(x) . A^T) . B^T) */
static void lin_fwd(ws_t *ws, int l, int k, int mm, const R *x, R *y, int N, uint64_t seed) {
    const net_t *net = ws->net;
    int s = LC_TR_SLOT(l, k);
    int64_t rows, cols;
    lc_tr_slot_shape(net->hp, s, &rows, &cols);
    int in = (int)cols, out = (int)rows;
    gemm(0, 1, N, out, in, 1, x, in, weight_of(ws, s), in, 0, y, out);
    int idx = l * LC_LORA_N + mm;
    if (mm < 0 || net->lora_rank <= 0 || !net->la[idx]) return;
    int r = net->lora_rank;
    const R *xin = x;
    if (seed && net->lora_dropout > 0) {
        R *xd = ws->lx[idx];
        R keep_scale = (R)(1.0 / (1.0 - net->lora_dropout));
        for (size_t e = 0; e < (size_t)N * in; e++)
            xd[e] = lora_keep(seed, idx, e, net->lora_dropout) ? x[e] * keep_scale : 0;
        xin = xd;
    }
    gemm(0, 1, N, r, in, 1, xin, in, net->la[idx], in, 0, ws->lh[idx], r);
    gemm(0, 1, N, out, r, (R)net->lora_scale, ws->lh[idx], r, net->lb[idx], r, 1, y, out);
}

/* dx (N, in) (= or +=) dy . W ; dW += dy^T . x ; adapter gradients */
static void lin_bwd(ws_t *ws, int l, int k, int mm, const R *x, const R *dy, R *dx, int acc, int N, uint64_t seed) {
    const net_t *net = ws->net;
    int s = LC_TR_SLOT(l, k);
    int64_t rows, cols;
    lc_tr_slot_shape(net->hp, s, &rows, &cols);
    int in = (int)cols, out = (int)rows;
    gemm(0, 0, N, in, out, 1, dy, out, weight_of(ws, s), in, acc ? 1 : 0, dx, in);
    if (net->gw[s]) gemm(1, 0, out, in, N, 1, dy, out, x, in, 1, net->gw[s], in);
    int idx = l * LC_LORA_N + mm;
    if (mm < 0 || net->lora_rank <= 0 || !net->la[idx]) return;
    int r = net->lora_rank;
    R sc = (R)net->lora_scale;
    bool drop = seed && net->lora_dropout > 0;
    const R *xin = drop ? ws->lx[idx] : x;
    if (net->glb && net->glb[idx]) gemm(1, 0, out, r, N, sc, dy, out, ws->lh[idx], r, 1, net->glb[idx], r);
    gemm(0, 0, N, r, out, sc, dy, out, net->lb[idx], r, 0, ws->dlh, r);
    if (net->gla && net->gla[idx]) gemm(1, 0, r, in, N, 1, ws->dlh, r, xin, in, 1, net->gla[idx], in);
    gemm(0, 0, N, in, r, 1, ws->dlh, r, net->la[idx], in, 0, ws->ldx, in);
    if (drop) {
        R keep_scale = (R)(1.0 / (1.0 - net->lora_dropout));
        for (size_t e = 0; e < (size_t)N * in; e++)
            if (lora_keep(seed, idx, e, net->lora_dropout)) dx[e] += ws->ldx[e] * keep_scale;
    } else {
        for (size_t e = 0; e < (size_t)N * in; e++) dx[e] += ws->ldx[e];
    }
}

/* ---- RMSNorm ----------------------------------------------------------------------- */
static void rms_fwd(R *y, R *rs, const R *x, const R *w, int N, int n, float eps) {
    for (int t = 0; t < N; t++) {
        const R *xr = x + (size_t)t * n;
        R *yr = y + (size_t)t * n;
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        R sc = (R)(1.0 / sqrt(ss / n + eps));
        rs[t] = sc;
        for (int i = 0; i < n; i++) yr[i] = w[i] * (xr[i] * sc);
    }
}

/* dx (+)= d rms(x)/dx . dy ; dw += ... */
static void rms_bwd(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rs, int N, int n) {
    for (int t = 0; t < N; t++) {
        const R *xr = x + (size_t)t * n, *dyr = dy + (size_t)t * n;
        R *dxr = dx + (size_t)t * n;
        R sc = rs[t];
        double dot = 0;
        for (int i = 0; i < n; i++) dot += (double)w[i] * dyr[i] * xr[i];
        R c = (R)(dot * (double)sc * sc * sc / n);
        for (int i = 0; i < n; i++) dxr[i] += sc * w[i] * dyr[i] - c * xr[i];
        if (dw)
            for (int i = 0; i < n; i++) dw[i] += dyr[i] * xr[i] * sc;
    }
}

/* ---- RoPE ------------------------------------------------------------------------------ */
static void rope_apply(ws_t *ws, R *v, int N, int T, int nh, int inverse) {
    const lc_tr_hp *hp = ws->net->hp;
    int hd = hp->head_dim, half = hd / 2;
    for (int n = 0; n < N; n++) {
        int t = n % T;
        const R *cs = ws->cosv + (size_t)t * half, *sn = ws->sinv + (size_t)t * half;
        for (int h = 0; h < nh; h++) {
            R *p = v + ((size_t)n * nh + h) * hd;
            for (int i = 0; i < half; i++) {
                int a = hp->neox ? i : 2 * i, b = hp->neox ? i + half : 2 * i + 1;
                R x0 = p[a], x1 = p[b], s = inverse ? -sn[i] : sn[i];
                p[a] = x0 * cs[i] - x1 * s;
                p[b] = x0 * s + x1 * cs[i];
            }
        }
    }
}

/* ---- attention ---------------------------------------------------------------------- */
/* per (sequence, head): S = scale * Q.K^T on the BLAS, causal softmax, O = P.V. The upper
 * triangle of P is zero, so the full products give the causal result exactly. */
static void attn_fwd(ws_t *ws, int l) {
    const lc_tr_hp *hp = ws->net->hp;
    int B = ws->cB, T = ws->cT, nh = hp->n_heads, nkv = hp->n_kv_heads, hd = hp->head_dim;
    int grp = nh / nkv;
    size_t N = (size_t)ws->B * ws->T, qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const R *q = ws->q + l * N * qd, *k = ws->k + l * N * kvd, *v = ws->v + l * N * kvd;
    R *att = ws->att + (size_t)l * ws->B * nh * ws->T * ws->T, *ao = ws->ao + l * N * qd;
    R scale = (R)(sizeof(R) == sizeof(float) ? 1.0f / sqrtf((float)hd) : 1.0 / sqrt((double)hd));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int kh = h / grp;
            R *P = att + ((size_t)b * nh + h) * T * T;
            const R *Q = q + (size_t)b * T * qd + (size_t)h * hd, *K = k + (size_t)b * T * kvd + (size_t)kh * hd;
            const R *Vv = v + (size_t)b * T * kvd + (size_t)kh * hd;
            gemm(0, 1, T, T, hd, scale, Q, (int)qd, K, (int)kvd, 0, P, T);
            for (int i = 0; i < T; i++) {
                R *p = P + (size_t)i * T, mx = p[0];
                for (int j = 1; j <= i; j++)
                    if (p[j] > mx) mx = p[j];
                R sum = 0;
                for (int j = 0; j <= i; j++) {
                    p[j] = REXP(p[j] - mx);
                    sum += p[j];
                }
                R inv = 1 / sum;
                for (int j = 0; j <= i; j++) p[j] *= inv;
                for (int j = i + 1; j < T; j++) p[j] = 0;
            }
            gemm(0, 0, T, hd, T, 1, P, T, Vv, (int)kvd, 0, ao + (size_t)b * T * qd + (size_t)h * hd, (int)qd);
        }
}

/* dP = dO.V^T, dS = P * (dP - rowsum(P * dP)) * scale, dQ = dS.K, dK += dS^T.Q, dV += P^T.dO */
static void attn_bwd(ws_t *ws, int l) {
    const lc_tr_hp *hp = ws->net->hp;
    int B = ws->cB, T = ws->cT, nh = hp->n_heads, nkv = hp->n_kv_heads, hd = hp->head_dim;
    int grp = nh / nkv;
    size_t N = (size_t)ws->B * ws->T, qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const R *q = ws->q + l * N * qd, *k = ws->k + l * N * kvd, *v = ws->v + l * N * kvd;
    const R *att = ws->att + (size_t)l * ws->B * nh * ws->T * ws->T;
    R scale = (R)(sizeof(R) == sizeof(float) ? 1.0f / sqrtf((float)hd) : 1.0 / sqrt((double)hd));
    R *dS = ws->dps;   /* (T, T) */
    memset(ws->dk, 0, (size_t)B * T * kvd * sizeof(R));
    memset(ws->dv, 0, (size_t)B * T * kvd * sizeof(R));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int kh = h / grp;
            const R *P = att + ((size_t)b * nh + h) * T * T;
            size_t qo = (size_t)b * T * qd + (size_t)h * hd, ko = (size_t)b * T * kvd + (size_t)kh * hd;
            const R *dO = ws->dao + qo;
            gemm(0, 1, T, T, hd, 1, dO, (int)qd, v + ko, (int)kvd, 0, dS, T);
            for (int i = 0; i < T; i++) {
                const R *p = P + (size_t)i * T;
                R *d = dS + (size_t)i * T, sum = 0;
                for (int j = 0; j <= i; j++) sum += p[j] * d[j];
                for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - sum) * scale;
                for (int j = i + 1; j < T; j++) d[j] = 0;
            }
            gemm(1, 0, T, hd, T, 1, P, T, dO, (int)qd, 1, ws->dv + ko, (int)kvd);
            gemm(0, 0, T, hd, T, 1, dS, T, k + ko, (int)kvd, 0, ws->dq + qo, (int)qd);
            gemm(1, 0, T, hd, T, 1, dS, T, q + qo, (int)qd, 1, ws->dk + ko, (int)kvd);
        }
}

/* ---- cross-entropy over a chunk of rows ---------------------------------------------- */
static void ce_task(void *arg, int ith, int nth) {
    ws_t *ws = arg;
    int V = ws->net->hp->n_vocab, n = ws->cn;
    int per = (n + nth - 1) / nth, r0 = ith * per, r1 = LC_MIN(r0 + per, n);
    for (int r = r0; r < r1; r++) {
        R *z = ws->lg + (size_t)r * V;
        int y = ws->ctgt[r];
        R mx = z[0];
        for (int i = 1; i < V; i++)
            if (z[i] > mx) mx = z[i];
        double sum = 0;
        for (int i = 0; i < V; i++) sum += (double)REXP(z[i] - mx);
        ws->closs[r] = (double)mx + log(sum) - (double)z[y];
        if (ws->cback) {
            double inv = ws->cscale / sum;
            for (int i = 0; i < V; i++) z[i] = (R)((double)REXP(z[i] - mx) * inv);
            z[y] -= (R)ws->cscale;
        }
    }
}

static void head(ws_t *ws, const int32_t *tgt, int N, int backward, double scale, double *loss_sum,
                 int64_t *n_tgt) {
    const net_t *net = ws->net;
    const lc_tr_hp *hp = net->hp;
    int dim = hp->dim, V = hp->n_vocab, L = hp->n_layers;
    int so = hp->tied ? LC_TR_SLOT_EMBD : LC_TR_SLOT_OUT(L);
    const R *W = NULL;
    R *gW = net->gw[so];
    if (backward) memset(ws->dxnf, 0, (size_t)N * dim * sizeof(R));
    int n = 0;
    for (int t = 0; t <= N; t++) {
        if (t < N && tgt[t] >= 0) {
            ws->crow[n] = t;
            ws->ctgt[n] = tgt[t];
            memcpy(ws->xc + (size_t)n * dim, ws->xnf + (size_t)t * dim, (size_t)dim * sizeof(R));
            n++;
        }
        if (n == CE_CHUNK || (t == N && n > 0)) {
            if (!W) W = weight_of(ws, so);
            gemm(0, 1, n, V, dim, 1, ws->xc, dim, W, dim, 0, ws->lg, V);
            ws->cn = n;
            ws->cback = backward;
            ws->cscale = scale;
            lc_pool_run(ws->pool, ce_task, ws);
            for (int r = 0; r < n; r++) *loss_sum += ws->closs[r];
            *n_tgt += n;
            if (backward) {
                gemm(0, 0, n, dim, V, 1, ws->lg, V, W, dim, 0, ws->dxc, dim);
                for (int r = 0; r < n; r++)
                    memcpy(ws->dxnf + (size_t)ws->crow[r] * dim, ws->dxc + (size_t)r * dim, (size_t)dim * sizeof(R));
                if (gW) gemm(1, 0, V, dim, n, 1, ws->lg, V, ws->xc, dim, 1, gW, dim);
            }
            n = 0;
        }
    }
}

/* ---- forward + backward ------------------------------------------------------------ */
int S(lc_tr_forward)(const net_t *net, ws_t *ws, const int32_t *tok, const int32_t *tgt, int B, int T,
                     int backward, double grad_scale, uint64_t seed, double *loss_sum, int64_t *n_tgt,
                     float *logits) {
    const lc_tr_hp *hp = net->hp;
    if (B > ws->B || T > ws->T || B < 1 || T < 1)
        return lc_fail(LC_ERR_ARG, "train: batch %d x %d exceeds the workspace %d x %d", B, T, ws->B, ws->T);
    int L = hp->n_layers, dim = hp->dim, ffn = hp->ffn_dim, V = hp->n_vocab;
    int nh = hp->n_heads, nkv = hp->n_kv_heads, hd = hp->head_dim;
    int N = B * T;
    size_t NC = (size_t)ws->B * ws->T, qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    for (int i = 0; i < N; i++)
        if (tok[i] < 0 || tok[i] >= V) return lc_fail(LC_ERR_ARG, "train: token %d out of range", tok[i]);
    if (tgt)
        for (int i = 0; i < N; i++)
            if (tgt[i] >= V) return lc_fail(LC_ERR_ARG, "train: target %d out of range", tgt[i]);
    ws->cB = B;
    ws->cT = T;
    for (int i = 0; i < N; i++) embd_row(ws, tok[i], ws->xs + (size_t)i * dim);
    for (int l = 0; l < L; l++) {
        R *x = ws->xs + l * NC * dim, *xo = ws->xs + (l + 1) * NC * dim;
        R *xn1 = ws->xn1 + l * NC * dim, *q = ws->q + l * NC * qd, *k = ws->k + l * NC * kvd;
        R *v = ws->v + l * NC * kvd, *ao = ws->ao + l * NC * qd, *xmid = ws->xmid + l * NC * dim;
        R *xn2 = ws->xn2 + l * NC * dim, *g = ws->g + l * NC * ffn, *u = ws->u + l * NC * ffn;
        R *h = ws->h + l * NC * ffn;
        rms_fwd(xn1, ws->rs1 + l * NC, x, net->w[LC_TR_SLOT(l, LC_TR_K_ATTN_NORM)], N, dim, hp->norm_eps);
        lin_fwd(ws, l, LC_TR_K_Q, LC_LORA_Q, xn1, q, N, seed);
        lin_fwd(ws, l, LC_TR_K_K, LC_LORA_K, xn1, k, N, seed);
        lin_fwd(ws, l, LC_TR_K_V, LC_LORA_V, xn1, v, N, seed);
        rope_apply(ws, q, N, T, nh, 0);
        rope_apply(ws, k, N, T, nkv, 0);
        attn_fwd(ws, l);
        lin_fwd(ws, l, LC_TR_K_O, LC_LORA_O, ao, xmid, N, seed);
        for (size_t i = 0; i < (size_t)N * dim; i++) xmid[i] += x[i];
        rms_fwd(xn2, ws->rs2 + l * NC, xmid, net->w[LC_TR_SLOT(l, LC_TR_K_FFN_NORM)], N, dim, hp->norm_eps);
        lin_fwd(ws, l, LC_TR_K_GATE, LC_LORA_GATE, xn2, g, N, seed);
        lin_fwd(ws, l, LC_TR_K_UP, LC_LORA_UP, xn2, u, N, seed);
        for (size_t i = 0; i < (size_t)N * ffn; i++) {
            R gg = g[i];
            h[i] = gg / (1 + REXP(-gg)) * u[i];
        }
        lin_fwd(ws, l, LC_TR_K_DOWN, LC_LORA_DOWN, h, xo, N, seed);
        for (size_t i = 0; i < (size_t)N * dim; i++) xo[i] += xmid[i];
    }
    R *xL = ws->xs + (size_t)L * NC * dim;
    rms_fwd(ws->xnf, ws->rsf, xL, net->w[LC_TR_SLOT_ONORM(L)], N, dim, hp->norm_eps);
    if (logits) {
        int so = hp->tied ? LC_TR_SLOT_EMBD : LC_TR_SLOT_OUT(L);
        const R *W = weight_of(ws, so);
        for (int r0 = 0; r0 < N; r0 += CE_CHUNK) {
            int n = LC_MIN(CE_CHUNK, N - r0);
            gemm(0, 1, n, V, dim, 1, ws->xnf + (size_t)r0 * dim, dim, W, dim, 0, ws->lg, V);
            for (size_t i = 0; i < (size_t)n * V; i++) logits[(size_t)r0 * V + i] = (float)ws->lg[i];
        }
    }
    if (!tgt) return LC_OK;
    double ls = 0;
    int64_t nt = 0;
    head(ws, tgt, N, backward, grad_scale, &ls, &nt);
    *loss_sum += ls;
    *n_tgt += nt;
    if (!backward) return LC_OK;

    /* ---- backward ---- */
    R *dx = ws->dx;
    memset(dx, 0, (size_t)N * dim * sizeof(R));
    rms_bwd(dx, net->gw[LC_TR_SLOT_ONORM(L)], ws->dxnf, xL, net->w[LC_TR_SLOT_ONORM(L)], ws->rsf, N, dim);
    for (int l = L - 1; l >= 0; l--) {
        R *x = ws->xs + l * NC * dim;
        R *xn1 = ws->xn1 + l * NC * dim, *k = ws->k + l * NC * kvd, *v = ws->v + l * NC * kvd;
        R *ao = ws->ao + l * NC * qd, *xmid = ws->xmid + l * NC * dim;
        R *xn2 = ws->xn2 + l * NC * dim, *g = ws->g + l * NC * ffn, *u = ws->u + l * NC * ffn;
        R *h = ws->h + l * NC * ffn;
        (void)k;
        (void)v;
        /* FFN: xo = xmid + down(silu(g) * u) */
        lin_bwd(ws, l, LC_TR_K_DOWN, LC_LORA_DOWN, h, dx, ws->dh, 0, N, seed);
        for (size_t i = 0; i < (size_t)N * ffn; i++) {
            R gg = g[i], sg = 1 / (1 + REXP(-gg)), si = gg * sg;
            ws->du[i] = ws->dh[i] * si;
            ws->dg[i] = ws->dh[i] * u[i] * sg * (1 + gg * (1 - sg));
        }
        lin_bwd(ws, l, LC_TR_K_GATE, LC_LORA_GATE, xn2, ws->dg, ws->dxn, 0, N, seed);
        lin_bwd(ws, l, LC_TR_K_UP, LC_LORA_UP, xn2, ws->du, ws->dxn, 1, N, seed);
        memcpy(ws->dxm, dx, (size_t)N * dim * sizeof(R));
        rms_bwd(ws->dxm, net->gw[LC_TR_SLOT(l, LC_TR_K_FFN_NORM)], ws->dxn, xmid,
                net->w[LC_TR_SLOT(l, LC_TR_K_FFN_NORM)], ws->rs2 + l * NC, N, dim);
        /* attention: xmid = x + o(ao) */
        lin_bwd(ws, l, LC_TR_K_O, LC_LORA_O, ao, ws->dxm, ws->dao, 0, N, seed);
        attn_bwd(ws, l);
        rope_apply(ws, ws->dq, N, T, nh, 1);
        rope_apply(ws, ws->dk, N, T, nkv, 1);
        lin_bwd(ws, l, LC_TR_K_Q, LC_LORA_Q, xn1, ws->dq, ws->dxn, 0, N, seed);
        lin_bwd(ws, l, LC_TR_K_K, LC_LORA_K, xn1, ws->dk, ws->dxn, 1, N, seed);
        lin_bwd(ws, l, LC_TR_K_V, LC_LORA_V, xn1, ws->dv, ws->dxn, 1, N, seed);
        memcpy(dx, ws->dxm, (size_t)N * dim * sizeof(R));
        rms_bwd(dx, net->gw[LC_TR_SLOT(l, LC_TR_K_ATTN_NORM)], ws->dxn, x, net->w[LC_TR_SLOT(l, LC_TR_K_ATTN_NORM)],
                ws->rs1 + l * NC, N, dim);
    }
    R *ge = net->gw[LC_TR_SLOT_EMBD];
    if (ge)
        for (int i = 0; i < N; i++) {
            R *row = ge + (size_t)tok[i] * dim;
            const R *d = dx + (size_t)i * dim;
            for (int j = 0; j < dim; j++) row[j] += d[j];
        }
    return LC_OK;
}

#undef R
#undef S
#undef REXP
#endif
