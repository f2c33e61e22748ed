/* tok_bench.c - tokenizer encode speed on one thread.
 * usage: tok_bench [tokenizer (default ../shared/data/tokenizer/tokenizer.json)]
 *                  [text file (default: the ../shared/data/corpus/ *.txt files)]
 * The text is repeated to at least 8 MB, encoded once, and the rate printed. */
#include "llamac.h"
#include "internal.h"

#include <dirent.h>

static int append_file(const char *path, char **buf, size_t *n) {
    char *s;
    size_t len;
    int rc = lc_read_file(path, &s, &len, (size_t)1 << 30);
    if (rc) return rc;
    char *nb = realloc(*buf, *n + len + 1);
    if (!nb) {
        free(s);
        return LC_ERR_NOMEM;
    }
    memcpy(nb + *n, s, len);
    *n += len;
    nb[*n] = 0;
    *buf = nb;
    free(s);
    return LC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    const char *tok_path = argc > 1 ? argv[1] : "../shared/data/tokenizer/tokenizer.json";
    const char *text_path = argc > 2 ? argv[2] : "../shared/data/corpus";
    char *text = NULL;
    size_t n = 0;
    if (lc_is_dir(text_path)) {
        DIR *d = opendir(text_path);
        if (!d) {
            fprintf(stderr, "tok_bench: cannot open %s\n", text_path);
            return 1;
        }
        char *names[256];
        int nn = 0;
        struct dirent *e;
        while ((e = readdir(d)) && nn < 256) {
            size_t l = strlen(e->d_name);
            if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0) names[nn++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, (size_t)nn, sizeof names[0], cmp_str);
        for (int i = 0; i < nn; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", text_path, names[i]);
            if (append_file(p, &text, &n)) fprintf(stderr, "tok_bench: %s: %s\n", p, lc_last_error());
            free(names[i]);
        }
    } else if (append_file(text_path, &text, &n)) {
        fprintf(stderr, "tok_bench: %s: %s\n", text_path, lc_last_error());
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "tok_bench: no text\n");
        return 1;
    }
    size_t one = n;
    while (n < ((size_t)8 << 20)) {
        char *nb = realloc(text, n + one + 1);
        if (!nb) return 1;
        text = nb;
        memcpy(text + n, text, one);
        n += one;
        text[n] = 0;
    }
    lc_tok *t;
    double t0 = lc_time_s();
    int rc = lc_tok_load(tok_path, &t);
    if (rc) {
        fprintf(stderr, "tok_bench: %s\n", lc_last_error());
        return 1;
    }
    double t1 = lc_time_s();
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids) return 1;
    double t2 = lc_time_s();
    int nt = lc_tok_encode(t, text, n, 0, ids, (int)n + 1);
    double t3 = lc_time_s();
    if (nt < 0) {
        fprintf(stderr, "tok_bench: encode: %s\n", lc_last_error());
        return 1;
    }
    fprintf(stderr, "tokenizer load: %.3f s (%s)\n", t1 - t0, tok_path);
    printf("tokenizer encode: %.2f MB/s (%d tokens, %zu bytes, 1 thread)\n", (double)n / (t3 - t2) / 1e6, nt, n);
    free(ids);
    free(text);
    lc_tok_free(t);
    return 0;
}
