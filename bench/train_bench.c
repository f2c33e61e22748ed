/* train_bench.c - training throughput (forward + backward + AdamW) of a small Llama model
 * on random tokens, in tokens per second, and what an hour of it buys.
 * usage: train_bench [threads 2] [dim 256] [layers 6] [heads 8] [kv_heads 4] [ffn 768]
 *                    [vocab 4096] [ctx 256] [batch 8] [steps 4] */
#include "train.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int a[10] = { 2, 256, 6, 8, 4, 768, 4096, 256, 8, 4 };
    for (int i = 1; i < argc && i <= 10; i++) a[i - 1] = atoi(argv[i]);
    int threads = a[0], B = a[8], T = a[7], steps = a[9];
    lc_tr_hp hp = { 0 };
    hp.dim = a[1];
    hp.n_layers = a[2];
    hp.n_heads = a[3];
    hp.n_kv_heads = a[4];
    hp.head_dim = hp.n_heads > 0 ? hp.dim / hp.n_heads : 0;
    hp.ffn_dim = a[5];
    hp.n_vocab = a[6];
    hp.n_ctx = T;
    hp.norm_eps = 1e-5f;
    hp.rope_theta = 500000.0f;
    hp.tied = 1;
    lc_tr_hp_rope(&hp, 1, 8.0f, 1.0f, 4.0f, 8192);
    lc_tr_model *m;
    if (lc_tr_model_init(&hp, 1, &m)) {
        fprintf(stderr, "train_bench: %s\n", lc_last_error());
        return 1;
    }
    size_t n = (size_t)B * T;
    int32_t *tok = malloc(n * sizeof *tok), *tgt = malloc(n * sizeof *tgt);
    if (!tok || !tgt) return 1;
    uint64_t r = 7;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((r >> 33) % (uint64_t)hp.n_vocab);
    }
    for (size_t i = 0; i < n; i++) tgt[i] = i + 1 < n ? tok[i + 1] : 0;
    double loss;
    if (lc_tr_model_train_batch(m, tok, tgt, B, T, 1e-3f, threads, &loss)) { /* warm-up, allocations */
        fprintf(stderr, "train_bench: %s\n", lc_last_error());
        return 1;
    }
    double t0 = lc_time_s();
    for (int s = 0; s < steps; s++)
        if (lc_tr_model_train_batch(m, tok, tgt, B, T, 1e-3f, threads, &loss)) {
            fprintf(stderr, "train_bench: %s\n", lc_last_error());
            return 1;
        }
    double el = lc_time_s() - t0, tps = (double)n * steps / el;
    printf("train: dim %d layers %d heads %d/%d ffn %d vocab %d ctx %d batch %d, %.2fM parameters, %d threads\n",
           hp.dim, hp.n_layers, hp.n_heads, hp.n_kv_heads, hp.ffn_dim, hp.n_vocab, T, B,
           (double)lc_tr_model_n_train(m) / 1e6, threads);
    printf("train: %.0f tokens/s (%.2f s per step of %zu tokens), %.1fM tokens per hour, peak RSS %.0f MiB\n", tps,
           el / steps, n, tps * 3600 / 1e6, lc_peak_rss_bytes() / 1048576.0);
    lc_tr_model_free(m);
    free(tok);
    free(tgt);
    return 0;
}
