/* fuzz_safetensors.c - libFuzzer target: lc_safetensors_parse on arbitrary bytes; every
 * tensor's bytes must lie inside the input. */
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lc_tensor *ts;
    char **names;
    int64_t n;
    if (lc_safetensors_parse(data, size, &ts, &names, &n) != LC_OK) return 0;
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *d = ts[i].data;
        if (d < data || d + ts[i].nbytes > data + size || ts[i].name != names[i]) __builtin_trap();
        if (ts[i].nbytes) sink ^= d[0] ^ d[ts[i].nbytes - 1];
        free(names[i]);
    }
    (void)sink;
    free(names);
    free(ts);
    return 0;
}
