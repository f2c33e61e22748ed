/* test_cli_tools.c - the model tools and measurements of the llamac program, run as a
 * program (t_run_llamac): make-model, quantize, bench (--json, --membw), perplexity
 * (scalar and fast kernels agree), their usage texts and usage errors. Fast: tiny
 * models and small buffers only; speed itself is measured by `make bench`, not here. */
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------- */

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(s), w = fwrite(s, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static float *read_f32(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = len > 0 ? malloc((size_t)len) : NULL;
    if (v && fread(v, 1, (size_t)len, f) != (size_t)len) {
        free(v);
        v = NULL;
    }
    fclose(f);
    *n = v ? (size_t)len / 4 : 0;
    return v;
}

/* exactly one "error: " line and nothing that looks like a crash */
static int one_error(const char *out) {
    int n = 0;
    for (const char *p = out; (p = strstr(p, "error: ")); p += 7) n++;
    return n == 1 && !strstr(out, "Segmentation") && !strstr(out, "Abort");
}

/* "Final estimate: PPL = X" -> X, NAN if absent */
static double final_ppl(const char *out) {
    const char *p = strstr(out, "Final estimate: PPL = ");
    return p ? strtod(p + strlen("Final estimate: PPL = "), NULL) : NAN;
}

/* a text of English prose, n_rep copies of one paragraph */
static const char *prose_file(const char *name, int n_rep) {
    static char path[2][4096];
    static int slot;
    char *p = path[slot++ & 1];
    snprintf(p, sizeof path[0], "%s/%s", t_tmpdir(), name);
    static const char para[] =
        "The river ran low that summer, and the boats that once carried grain to the city lay on the mud "
        "with their keels in the air. Children walked across where the ferry used to go, and old men "
        "argued about whether the rains would come before the harvest or after it. ";
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    for (int i = 0; i < n_rep; i++) fputs(para, f);
    return fclose(f) ? NULL : p;
}

/* the tiny Q8_0 model most tests use, made once (make-model needs the shared tokenizer) */
static const char *tiny_model(void) {
    static char path[4096];
    static int state; /* 0: not tried, 1: made, -1: failed */
    if (state == 0) {
        state = -1;
        if (!t_shared("data/tokenizer/tokenizer.json")) return NULL;
        snprintf(path, sizeof path, "%s/tiny-q8_0.gguf", t_tmpdir());
        char *out;
        int rc = t_run(&out, "make-model --shape tiny --type q8_0 --seed 7 -o '%s' -q", path);
        if (rc == 0 && exists(path)) state = 1;
        else fprintf(stderr, "  make-model failed (%d): %s\n", rc, out);
        free(out);
    }
    return state == 1 ? path : NULL;
}

/* ---- usage ---------------------------------------------------------- */
static int test_help(void) {
    static const char *const cmds[] = { "make-model", "quantize", "bench", "perplexity" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *out, want[64];
        CHECKF(t_run(&out, "%s --help", cmds[i]) == 0, "%s --help", cmds[i]);
        snprintf(want, sizeof want, "usage: llamac %s", cmds[i]);
        CHECKF(strstr(out, want) != NULL, "%s", out);
        CHECK(!strstr(out, "not built yet"));
        free(out);
        CHECK(t_run(&out, "help %s", cmds[i]) == 0 && strstr(out, want));
        free(out);
    }
    char *out;
    CHECK(t_run(&out, "bench -h") == 0 && strstr(out, "--membw-size"));
    free(out);
    CHECK(t_run(&out, "--help") == 0 && strstr(out, "perplexity") && strstr(out, "make-model"));
    free(out);
    return T_PASS;
}

static int test_usage_errors(void) {
    static const char *const bad[] = {
        "make-model",
        "make-model --shape tiny --type q8_0",
        "make-model --shape huge --type q8_0 -o /tmp/llamac-never.gguf",
        "make-model --shape tiny --type q5_1 -o /tmp/llamac-never.gguf",
        "make-model --shape tiny --type q8_0 -o /tmp/llamac-never.gguf --seed -3",
        "make-model --shape tiny --type q8_0 -o /tmp/llamac-never.gguf --bogus",
        "make-model --shape",
        "quantize",
        "quantize a.gguf b.gguf",
        "quantize a.gguf b.gguf q8_0 extra",
        "quantize a.gguf b.gguf q9",
        "quantize --nope a.gguf b.gguf q8_0",
        "bench",
        "bench -m x.gguf --bogus",
        "bench -m x.gguf -p abc",
        "bench -m x.gguf -p 16,,",
        "bench -m x.gguf -r 0",
        "bench -m x.gguf -p 0 -n 0",
        "bench -m x.gguf --ctx 64",
        "bench --membw --membw-size 12X",
        "bench --membw --membw-size 0",
        "bench --membw -t -1",
        "bench --membw --isa vax",
        "perplexity",
        "perplexity -m x.gguf",
        "perplexity -f x.txt",
        "perplexity -m x.gguf -f x.txt --ctx 2",
        "perplexity -m x.gguf -f x.txt --chunks 0",
        "perplexity -m x.gguf -f x.txt --frobnicate",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out;
        int rc = t_run(&out, "%s", bad[i]);
        CHECKF(rc == 1, "'%s' exited %d: %s", bad[i], rc, out);
        CHECKF(one_error(out), "'%s': %s", bad[i], out);
        free(out);
    }
    CHECK(!exists("/tmp/llamac-never.gguf"));
    /* missing files: a clear error, exit 1 */
    char *out;
    CHECK(t_run(&out, "quantize '%s/none.gguf' '%s/o.gguf' q8_0", t_tmpdir(), t_tmpdir()) == 1 && one_error(out));
    free(out);
    CHECK(t_run(&out, "bench -m '%s/none.gguf' -p 8 -n 0", t_tmpdir()) == 1 && one_error(out));
    free(out);
    return T_PASS;
}

/* ---- make-model ------------------------------------------------------- */
static int test_make_model(void) {
    const char *m = tiny_model();
    if (!m) return t_shared("data/tokenizer/tokenizer.json") ? T_FAIL : T_SKIP;
    char *out;
    CHECK(t_run(&out, "info -m '%s'", m) == 0);
    CHECKF(strstr(out, "Q8_0") && strstr(out, "layers:           2") && strstr(out, "llama3-bpe"), "%s", out);
    free(out);
    /* a second type, with the tensor table on stdout and progress lines on stderr */
    char p[4096];
    snprintf(p, sizeof p, "%s/tiny-q4_0.gguf", t_tmpdir());
    CHECK(t_run(&out, "make-model --shape tiny --type q4_0 --seed 7 -t 2 -o '%s'", p) == 0);
    CHECKF(strstr(out, "token_embd.weight") && strstr(out, "progress: 100.0%") && strstr(out, "MB/s"), "%s", out);
    CHECK(!strstr(out, "error"));
    free(out);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK(exists(p) && !exists(tmp));
    CHECK(t_run(&out, "info -m '%s'", p) == 0 && strstr(out, "Q4_0"));
    free(out);
    return T_PASS;
}

/* Ctrl-C while writing a large file: exit 1 with one error line, no file and no .tmp left */
static int test_make_model_cancel(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    const char *bin = getenv("LLAMAC_BIN");
    if (!bin || !*bin) bin = "./llamac";
    char p[4096], tmp[4200], log[4200];
    snprintf(p, sizeof p, "%s/cancel-1b.gguf", t_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    snprintf(log, sizeof log, "%s/cancel.log", t_tmpdir());
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        if (!f || !freopen("/dev/null", "w", stdout)) _exit(99);
        execl(bin, bin, "make-model", "--shape", "1b", "--type", "f16", "-q", "-o", p, (char *)NULL);
        _exit(98);
    }
    /* wait until the data is being written, then interrupt */
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    for (int i = 0; i < 1000 && !exists(tmp); i++) nanosleep(&ts, NULL);
    int had_tmp = exists(tmp);
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(had_tmp);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
    CHECK(!exists(p) && !exists(tmp));
    char s[4096] = "";
    FILE *f = fopen(log, "rb");
    CHECK(f != NULL);
    size_t n = fread(s, 1, sizeof s - 1, f);
    fclose(f);
    s[n] = 0;
    CHECKF(strstr(s, "error: make-model: cancelled"), "%s", s);
    return T_PASS;
}

/* ---- quantize --------------------------------------------------------- */
static int test_quantize(void) {
    const char *src = t_shared("vectors/quant/model-f32.gguf");
    const char *ref_path = t_shared("vectors/quant/logits_seq8.f32");
    const char *q8_path = t_shared("vectors/quant/logits_q8_0_seq8.f32");
    if (!src || !ref_path || !q8_path) return T_SKIP;
    char q8[4096], lg[4200], lgx[4200];
    snprintf(q8, sizeof q8, "%s/quant-q8_0.gguf", t_tmpdir());
    snprintf(lg, sizeof lg, "%s/quant-q8_0.logits", t_tmpdir());
    snprintf(lgx, sizeof lgx, "%s/quant-q8_0-exact.logits", t_tmpdir());
    char *out;
    CHECK(t_run(&out, "quantize '%s' '%s' q8_0 -t 2", src, q8) == 0);
    /* the tensor table and the closing line */
    CHECKF(strstr(out, "blk.1.ffn_up.weight") && strstr(out, "F32 -> Q8_0") && strstr(out, "in 22 tensors"), "%s",
           out);
    free(out);
    static const char toks[] = "510 219 41 488 474 256 146 215";   /* tokens.json seq8 */
    CHECK(t_run(&out, "logits -m '%s' --tokens '%s' -o '%s'", q8, toks, lg) == 0);
    free(out);
    CHECK(t_run(&out, "logits -m '%s' --tokens '%s' -o '%s' --exact", q8, toks, lgx) == 0);
    free(out);
    size_t n, nr, n8, nx;
    float *a = read_f32(lg, &n), *r = read_f32(ref_path, &nr), *r8 = read_f32(q8_path, &n8), *x = read_f32(lgx, &nx);
    CHECK(a && r && r8 && x && n == nr && n == n8 && n == nx && n == 8 * 512);
    double amax = 0, d = 0, dx = 0;
    for (size_t i = 0; i < n; i++) {
        amax = fmax(amax, fabs(r[i]));
        d = fmax(d, fabs(a[i] - r[i]));
        dx = fmax(dx, fabs(x[i] - r8[i]));
    }
    /* loose: the fast path rounds activations to 8 bits as well */
    CHECKF(d < 0.1 * amax, "q8_0 vs f32 logits: max diff %g (max |logit| %g)", d, amax);
    /* tight: the blocks are llama.cpp's, so the exact path gives the reference Q8_0 logits */
    CHECKF(dx < 1e-3, "q8_0 --exact vs reference q8_0 logits: max diff %g", dx);
    free(a);
    free(r);
    free(r8);
    free(x);

    /* requantizing needs --allow-requantize; the same file as IN and OUT is refused */
    char q4[4096];
    snprintf(q4, sizeof q4, "%s/quant-q4_0.gguf", t_tmpdir());
    CHECK(t_run(&out, "quantize -q '%s' '%s' q4_0", q8, q4) == 1 && one_error(out) && strstr(out, "--allow-requantize"));
    free(out);
    CHECK(!exists(q4));
    CHECK(t_run(&out, "quantize -q --allow-requantize '%s' '%s' q4_0", q8, q4) == 0 && exists(q4));
    free(out);
    CHECK(t_run(&out, "quantize -q '%s' '%s' q8_0", q8, q8) == 1 && one_error(out));
    free(out);
    return T_PASS;
}

/* ---- bench ------------------------------------------------------------- */
/* the JSON object on the line of out that contains key, or NULL */
static json_t *json_line_with(const char *out, const char *needle) {
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && p[0] == '{' && memmem(p, len, needle, strlen(needle))) return json_loadb(p, len, 0, NULL);
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

static int test_bench_json(void) {
    const char *m = tiny_model();
    if (!m) return t_shared("data/tokenizer/tokenizer.json") ? T_FAIL : T_SKIP;
    char *out;
    CHECK(t_run(&out, "bench -m '%s' -p 16 -n 4 -r 1 -t 2 --json", m) == 0);
    json_t *pp = json_line_with(out, "\"pp16\""), *tg = json_line_with(out, "\"tg4\"");
    CHECKF(pp && tg, "%s", out);
    CHECK(json_integer_value(json_object_get(pp, "threads")) == 2);
    CHECK(json_integer_value(json_object_get(tg, "threads")) == 2);
    CHECK(json_real_value(json_object_get(pp, "tokens_per_s")) > 0);
    CHECK(json_is_number(json_object_get(pp, "stddev")));
    CHECK(json_real_value(json_object_get(tg, "tokens_per_s")) > 0);
    CHECK(json_is_number(json_object_get(tg, "stddev")));
    double bpt = json_number_value(json_object_get(tg, "bytes_per_token"));
    CHECKF(bpt > 30e6 && bpt < 50e6, "bytes_per_token %g", bpt);   /* a Q8_0 tied 128256 x 256 embedding */
    CHECK(json_number_value(json_object_get(tg, "gbs")) > 0);
    CHECK(!json_object_get(pp, "bytes_per_token"));
    json_decref(pp);
    json_decref(tg);
    free(out);
    /* -n 0 skips the tg test; text output is a table */
    CHECK(t_run(&out, "bench -m '%s' -p 8 -n 0 -r 1", m) == 0);
    CHECKF(strstr(out, "| pp8 |") || strstr(out, "pp8"), "%s", out);
    CHECK(strstr(out, "t/s") && !strstr(out, "tg128"));
    free(out);
    return T_PASS;
}

static int test_bench_membw(void) {
    char *out;
    CHECK(t_run(&out, "bench --membw --membw-size 16M -t 2 --json") == 0);
    json_t *j = json_line_with(out, "membw_gbs");
    CHECKF(j, "%s", out);
    CHECK(json_number_value(json_object_get(j, "membw_gbs")) > 0);
    CHECK(json_integer_value(json_object_get(j, "threads")) == 2);
    json_decref(j);
    free(out);
    CHECK(t_run(&out, "bench --membw --membw-size 4M -t 1") == 0 && strstr(out, "GB/s"));
    free(out);
    return T_PASS;
}

/* ---- perplexity ------------------------------------------------------- */
static int test_perplexity_tiny(void) {
    const char *m = tiny_model();
    if (!m) return t_shared("data/tokenizer/tokenizer.json") ? T_FAIL : T_SKIP;
    const char *txt = prose_file("prose.txt", 1);
    CHECK(txt);
    char *out;
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 16 -t 2", m, txt) == 0);
    double ppl = final_ppl(out);
    CHECKF(isfinite(ppl) && ppl > 1, "%s", out);
    CHECKF(strstr(out, "[1]") && strstr(out, "[2]") && strstr(out, "+/-"), "%s", out);
    free(out);
    /* --chunks limits the windows */
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 16 --chunks 1", m, txt) == 0);
    CHECK(strstr(out, "[1]") && !strstr(out, "[2]") && isfinite(final_ppl(out)));
    free(out);
    /* fewer than 2 * ctx tokens: a clear error */
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 512", m, txt) == 1);
    CHECKF(one_error(out) && strstr(out, "at least 2 * ctx = 1024 tokens"), "%s", out);
    free(out);
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/empty.txt", t_tmpdir());
    CHECK(write_text(empty, "") == 0);
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 16", m, empty) == 1 && one_error(out));
    free(out);
    return T_PASS;
}

/* the scalar kernels and the fast ones give the same perplexity on an F32 model (0.1%) */
static int test_perplexity_isa(void) {
    const char *m = t_shared("vectors/quant/model-f32.gguf");
    if (!m) return T_SKIP;
    const char *txt = prose_file("prose4.txt", 4);
    CHECK(txt);
    char *out;
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 64 -t 2", m, txt) == 0);
    double fast = final_ppl(out);
    free(out);
    const char *old = getenv("LLAMAC_ISA");
    char *saved = old ? strdup(old) : NULL;
    setenv("LLAMAC_ISA", "scalar", 1);
    int rc = t_run(&out, "perplexity -m '%s' -f '%s' --ctx 64 -t 2", m, txt);
    if (saved) setenv("LLAMAC_ISA", saved, 1);
    else unsetenv("LLAMAC_ISA");
    free(saved);
    CHECK(rc == 0 && strstr(out, "isa scalar"));
    double scalar = final_ppl(out);
    free(out);
    CHECKF(isfinite(fast) && isfinite(scalar) && fabs(fast - scalar) <= 1e-3 * scalar, "fast %g scalar %g", fast,
           scalar);
    /* --isa picks the same */
    CHECK(t_run(&out, "perplexity -m '%s' -f '%s' --ctx 64 --isa scalar", m, txt) == 0);
    CHECK(fabs(final_ppl(out) - scalar) <= 1e-6 * scalar);
    free(out);
    return T_PASS;
}

const lc_test_case tests_cli_tools[] = {
    { "cli_tools_help", test_help },
    { "cli_tools_usage_errors", test_usage_errors },
    { "cli_tools_make_model", test_make_model },
    { "cli_tools_make_model_cancel", test_make_model_cancel },
    { "cli_tools_quantize", test_quantize },
    { "cli_tools_bench_json", test_bench_json },
    { "cli_tools_bench_membw", test_bench_membw },
    { "cli_tools_perplexity_tiny", test_perplexity_tiny },
    { "cli_tools_perplexity_isa", test_perplexity_isa },
    { NULL, NULL },
};
