/* fuzz_gguf.c - libFuzzer target: lc_gguf_parse on arbitrary bytes, then every getter on
 * every key and a read of every tensor's bytes (which must lie inside the input). */
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lc_gguf g;
    if (lc_gguf_parse(data, size, &g) != LC_OK) return 0;
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const lc_tensor *t = &g.tensors[i];
        if (t->nbytes) sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
        if (lc_gguf_tensor(&g, t->name) != t) __builtin_trap();
    }
    for (int64_t i = 0; i < g.n_kv; i++) {
        const char *k = g.kv[i].key;
        int64_t iv;
        double dv;
        lc_str s;
        lc_str *sa;
        int64_t *ia;
        float *fa;
        uint64_t n;
        lc_gguf_get_int(&g, k, &iv);
        lc_gguf_get_float(&g, k, &dv);
        if (lc_gguf_get_str(&g, k, &s) == LC_OK && s.len) sink ^= (uint8_t)s.p[s.len - 1];
        if (lc_gguf_get_str_array(&g, k, &sa, &n) == LC_OK) {
            for (uint64_t j = 0; j < n; j++)
                if (sa[j].len) sink ^= (uint8_t)sa[j].p[sa[j].len - 1];
            free(sa);
        }
        if (lc_gguf_get_int_array(&g, k, &ia, &n) == LC_OK) free(ia);
        if (lc_gguf_get_float_array(&g, k, &fa, &n) == LC_OK) free(fa);
    }
    (void)sink;
    lc_gguf_close(&g);
    return 0;
}
