/* test_review.c - regression tests for defects found by the adversarial review of the
 * core (issue 2). Each test names the defect it covers (R1, R2, ... as in the review
 * report). Some fail until the defect is fixed; none of them may crash or hang the runner:
 * library misuse runs in a forked child, the FIFO tests are bounded by a helper process. */
#include "test.h"
#include "internal.h"
#include "llamac.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------- */
/* CHECKF that frees ptr (a captured output) when the check fails, so that a failing test
 * leaks nothing under ASan */
#define CHECK_FREE(cond, ptr, ...)                                                        \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            free(ptr);                                                                    \
            return T_FAIL;                                                                \
        }                                                                                 \
    } while (0)



static int spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int slot;
    char *b = buf[slot++ % 8];
    snprintf(b, 512, "%s/review_%s", t_tmpdir(), name);
    return b;
}

/* exactly one non-empty line and it starts with "error: " */
static int one_error_line(const char *out) {
    if (strncmp(out, "error: ", 7) != 0) return 0;
    const char *nl = strchr(out, '\n');
    return nl && nl[1] == 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- R1: use-after-free of the rope_freqs buffer on a bad value ----------------- */
/* src/model.c bind_weights: free(div) then lc_fail(..., div[i]). A GGUF whose rope_freqs
 * holds a 0 must fail with one clean line naming the value (the freed buffer is read
 * today: garbage value in the message, heap-use-after-free under ASan). */
static int test_rope_freqs_uaf(void) {
    const char *src = t_shared("vectors/tiny/model-f32.gguf");
    if (!src) return T_SKIP;
    lc_gguf g;
    CHECK(lc_gguf_open(src, &g) == LC_OK);
    const lc_tensor *rf = lc_gguf_tensor(&g, "rope_freqs.weight");
    CHECK(rf && rf->type == LC_TYPE_F32 && rf->ne[0] == 8);
    size_t off = (size_t)((const uint8_t *)rf->data - g.map.data);
    lc_gguf_close(&g);
    size_t n;
    uint8_t *b = t_slurp(src, &n);
    CHECK(b && off + 32 <= n);
    memset(b + off, 0, 32);
    const char *p = tmp("rope0.gguf");
    CHECK(spit(p, b, n) == 0);
    free(b);
    char *out;
    int rc = t_run(&out, "info -m %s", p);
    CHECK_FREE(rc == 1 && one_error_line(out) && strstr(out, "rope_freqs[0] = 0 "), out, "rc %d: %s", rc, out);
    free(out);
    return T_PASS;
}

/* ---- R2: a FIFO given as the model hangs the loader ----------------------------- */
/* src/util.c lc_map_file / lc_read_file open() the path before checking that it is a
 * regular file: open() of a FIFO blocks until a writer appears. The helper child opens
 * the write end after 4 s (and again every 50 ms), so a hang costs 4 s here, not forever. */
static pid_t unblock_later(const char *fifo) {
    pid_t pid = fork();
    if (pid == 0) {
        sleep(4);
        for (int i = 0; i < 600; i++) {   /* every open the loader retries is unblocked too */
            int fd = open(fifo, O_WRONLY | O_NONBLOCK);
            if (fd >= 0) close(fd);
            usleep(50000);
        }
        _exit(0);
    }
    return pid;
}

static int fifo_case(const char *what, const char *fifo, const char *args_fmt, const char *path) {
    pid_t helper = unblock_later(fifo);
    char *out;
    double t0 = now();
    int rc = t_run(&out, args_fmt, path);
    double dt = now() - t0;
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    int ok = rc == 1 && one_error_line(out) && dt < 3.0;
    if (!ok) fprintf(stderr, "  %s: rc %d after %.1f s: %s", what, rc, dt, out);
    free(out);
    return ok;
}

static int test_fifo_model(void) {
    const char *cfg = t_shared("vectors/tiny/config.json");
    const char *st = t_shared("vectors/tiny/model.safetensors");
    if (!cfg || !st) return T_SKIP;
    const char *fifo = tmp("model.fifo");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    int ok = fifo_case("gguf fifo", fifo, "info -m %s", fifo);
    ok &= fifo_case("tokenizer fifo", fifo, "tokenize -m %s hello", fifo);
    /* a Hugging Face folder whose config.json is a FIFO */
    const char *dir = tmp("hf_fifo");
    char path[600], cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && ln -s '%s' '%s/model.safetensors'", dir, dir, st,
             dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(mkfifo(path, 0600) == 0);
    ok &= fifo_case("config.json fifo", path, "info -m %s", dir);
    CHECK(ok);
    return T_PASS;
}

/* ---- R3: a numeric flag without its value prints two error lines ---------------- */
/* tools/llamac.c take() reports "X needs a value" and hands "" on, then num_int /
 * num_float report "'' is not an integer" as a second line. */
static int test_missing_value_one_line(void) {
    const char *m = t_shared("vectors/tiny/model-f32.gguf");
    if (!m) return T_SKIP;
    static const char *const flags[] = { "-n", "--temp", "--ctx", "-t", "--top-p", "--seed" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *out;
        int rc = t_run(&out, "run -m %s -p hi %s", m, flags[i]);
        CHECK_FREE(rc == 1 && one_error_line(out), out, "%s: rc %d: %s", flags[i], rc, out);
        free(out);
    }
    return T_PASS;
}

/* ---- R4: run and chat ignore write errors on stdout ------------------------------ */
/* tools/llamac.c cmd_run / cmd_chat never check ferror(stdout) / fflush: with stdout on
 * a full device they exit 0 and the answer is lost (tokenize, prompt, info do fail). */
static int test_stdout_write_error(void) {
    const char *m = t_shared("vectors/tiny/model-f32.gguf");
    if (!m) return T_SKIP;
    if (access("/dev/full", W_OK) != 0) return T_SKIP;
    char *out;
    int rc = t_run(&out, "run -m %s -p hi -n 40 --seed 1 > /dev/full", m);
    free(out);
    CHECKF(rc == 1, "run to /dev/full exited %d", rc);
    const char *in = tmp("chat_in.txt");
    CHECK(spit(in, "hello\n", 6) == 0);
    rc = t_run(&out, "chat -m %s -n 20 --seed 1 < %s > /dev/full", m, in);
    free(out);
    CHECKF(rc == 1, "chat to /dev/full exited %d", rc);
    return T_PASS;
}

/* ---- R5: Hugging Face configs the forward pass does not implement load silently --- */
/* src/safetensors.c: attention_bias / mlp_bias true (with bias tensors in the file) and
 * hidden_act other than silu are accepted and ignored, so the logits are silently wrong.
 * They must be refused with one error line. */
static int make_hf(const char *dir, const char *cfg_patch_key, json_t *cfg_patch_val, int add_bias) {
    const char *src_cfg = t_shared("vectors/tiny/config.json");
    const char *src_st = t_shared("vectors/tiny/model.safetensors");
    char cmd[1200], path[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) return -1;
    json_error_t je;
    json_t *cfg = json_load_file(src_cfg, 0, &je);
    if (!cfg) return -1;
    json_object_set_new(cfg, cfg_patch_key, cfg_patch_val);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (json_dump_file(cfg, path, 0)) return -1;
    json_decref(cfg);
    size_t n;
    uint8_t *st = t_slurp(src_st, &n);
    if (!st || n < 8) return -1;
    uint64_t hlen;
    memcpy(&hlen, st, 8);
    json_t *hdr = json_loadb((const char *)st + 8, hlen, 0, &je);
    if (!hdr) return -1;
    size_t data_n = n - 8 - hlen;
    float bias[64];
    for (int i = 0; i < 64; i++) bias[i] = 0.5f;
    if (add_bias) {
        json_t *e = json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 64, "data_offsets",
                              (json_int_t)data_n, (json_int_t)(data_n + sizeof bias));
        json_object_set_new(hdr, "model.layers.0.self_attn.q_proj.bias", e);
    }
    char *h = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint64_t nl = hl + pad;
    fwrite(&nl, 8, 1, f);
    fwrite(h, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fwrite(st + 8 + hlen, 1, data_n, f);
    if (add_bias) fwrite(bias, 1, sizeof bias, f);
    fclose(f);
    free(h);
    free(st);
    return 0;
}

static int test_hf_unsupported_config(void) {
    if (!t_shared("vectors/tiny/config.json")) return T_SKIP;
    const char *dir = tmp("hf_bias");
    CHECK(make_hf(dir, "attention_bias", json_true(), 1) == 0);
    char *out;
    int rc = t_run(&out, "logits -m %s --tokens '510 5 6' -o %s", dir, tmp("bias.f32"));
    CHECK_FREE(rc == 1 && one_error_line(out), out, "attention_bias with q_proj.bias loaded: rc %d: %s", rc, out);
    free(out);
    dir = tmp("hf_gelu");
    CHECK(make_hf(dir, "hidden_act", json_string("gelu"), 0) == 0);
    rc = t_run(&out, "logits -m %s --tokens '510 5 6' -o %s", dir, tmp("gelu.f32"));
    CHECK_FREE(rc == 1 && one_error_line(out), out, "hidden_act gelu loaded: rc %d: %s", rc, out);
    free(out);
    return T_PASS;
}

/* ---- R6: README says decoding invalid UTF-8 ids gives the input back ------------- */
/* README ("Invalid UTF-8 is not an error: each invalid byte becomes its byte token, so
 * decoding gives the input back") vs tools/llamac.c cmd_detokenize, which goes through
 * the streaming detokenizer and prints U+FFFD for each invalid byte. Fix the program
 * (raw lc_tok_piece bytes, or a --raw flag the README names) or the README sentence;
 * if the README is changed, drop this test. */
static int test_detok_roundtrip_invalid(void) {
    const char *tj = t_shared("data/tokenizer/tokenizer.json");
    if (!tj) return T_SKIP;
    const char *in = tmp("inv.txt");
    static const char text[] = "a\xff" "b\xc3 c";
    CHECK(spit(in, text, sizeof text - 1) == 0);
    char *ids;
    int rc = t_run(&ids, "tokenize -m %s -f %s", tj, in);
    CHECK_FREE(rc == 0, ids, "%s", ids);
    char *nl = strchr(ids, '\n');
    if (nl) *nl = 0;
    const char *outp = tmp("inv.out");
    char *out;
    rc = t_run(&out, "detokenize -m %s %s > %s", tj, ids, outp);
    free(ids);
    free(out);
    CHECK(rc == 0);
    size_t n;
    char *got = t_slurp(outp, &n);
    CHECK(got);
    CHECK_FREE(n == sizeof text - 1 && memcmp(got, text, n) == 0, got, "detokenize gave %zu bytes, not the input", n);
    free(got);
    return T_PASS;
}

/* ---- R7: `make run` without a model names a make target that does not exist ------- */
/* scripts/run.sh says "build the bundled default model with `make default-models`";
 * the Makefile has no such target. */
static int test_run_sh_target(void) {
    size_t n, m;
    char *sh = t_slurp("scripts/run.sh", &n), *mk = t_slurp("Makefile", &m);
    if (!sh || !mk) {
        free(sh);
        free(mk);
        return T_SKIP;
    }
    const char *p = strstr(sh, "make default-models");
    int ok = !p || strstr(mk, "\ndefault-models:") || strstr(mk, " default-models:");
    free(sh);
    free(mk);
    CHECKF(ok, "scripts/run.sh points to `make default-models`, which the Makefile lacks");
    return T_PASS;
}

/* ---- R8: chat --verbose does not print the load time (issue 2, section 6) ---------- */
/* tools/llamac.c cmd_chat: per-turn stats and peak memory only; run prints "load: X s". */
static int test_chat_verbose_load(void) {
    const char *m = t_shared("vectors/tiny/model-f32.gguf");
    if (!m) return T_SKIP;
    const char *in = tmp("chat_v.txt");
    CHECK(spit(in, "hello\n", 6) == 0);
    char *out;
    int rc = t_run(&out, "chat -m %s -n 3 --seed 1 --verbose < %s", m, in);
    CHECK_FREE(rc == 0 && strstr(out, "load") && strstr(out, "peak memory"), out, "rc %d: %s", rc, out);
    free(out);
    return T_PASS;
}

/* ---- R9: NULL / out-of-range arguments crash public functions ---------------------- */
/* lc_model_load(NULL, ...) and lc_tok_load(NULL, ...) pass NULL to stat() in
 * src/util.c lc_is_dir (undefined behaviour: UBSan aborts the ASan build, glibc happens
 * to return EFAULT otherwise); lc_model_kv_bytes(m, -1) returns a wrapped
 * 18446744073709551104 instead of 0. lc_tok_lookup(t, NULL) is already fine and kept as a
 * guard. Run in a child so a crash does not take the runner down. */
static int test_api_null_args(void) {
    const char *mp = t_shared("vectors/tiny/model-f32.gguf");
    if (!mp) return T_SKIP;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        lc_model *m = NULL;
        lc_tok *t = NULL;
        if (lc_model_load(NULL, NULL, &m) >= 0) bad |= 1;
        if (lc_tok_load(NULL, &t) >= 0) bad |= 2;
        if (lc_model_load(mp, NULL, &m) != LC_OK) _exit(100);
        if (lc_tok_lookup(lc_model_tok(m), NULL) != -1) bad |= 4;
        if (lc_model_kv_bytes(m, -1) != 0) bad |= 8;
        lc_model_free(m);
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %s %d (bits: 1 model_load NULL, 2 tok_load NULL, "
           "4 tok_lookup NULL, 8 kv_bytes(-1))", WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return T_PASS;
}

/* ---- R10: -t accepts values the library then refuses --------------------------------- */
/* tools/llamac.c opt_common allows --threads up to 1024, src/threads.c lc_pool_new refuses
 * more than 512 with "context: too many threads (600)". Either range is fine, but the
 * option parser and the library must agree (info -t 600 even succeeds today). */
static int test_threads_range(void) {
    const char *m = t_shared("vectors/tiny/model-f32.gguf");
    if (!m) return T_SKIP;
    char *out;
    int rc = t_run(&out, "logits -m %s --tokens '510 5' -o %s -t 600", m, tmp("t600.f32"));
    CHECK_FREE(rc == 0 || (rc == 1 && one_error_line(out) && strstr(out, "--threads")), out, "rc %d: %s", rc, out);
    free(out);
    return T_PASS;
}

/* ---- R11: prompt -m accepts any path, even one that does not exist -------------------- */
/* tools/llamac.c cmd_prompt: "(void)model". A bad -m must be an error, not ignored. */
static int test_prompt_bad_model(void) {
    const char *req = tmp("req.json");
    static const char body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    CHECK(spit(req, body, sizeof body - 1) == 0);
    char *out;
    int rc = t_run(&out, "prompt -m %s -f %s", tmp("no_such_model.gguf"), req);
    CHECK_FREE(rc == 1 && one_error_line(out), out, "rc %d: %s", rc, out);
    free(out);
    return T_PASS;
}

const lc_test_case tests_review[] = {
    { "review_rope_freqs_uaf", test_rope_freqs_uaf },
    { "review_fifo_model_no_hang", test_fifo_model },
    { "review_missing_value_one_line", test_missing_value_one_line },
    { "review_stdout_write_error", test_stdout_write_error },
    { "review_hf_unsupported_config", test_hf_unsupported_config },
    { "review_detok_roundtrip_invalid", test_detok_roundtrip_invalid },
    { "review_run_sh_target", test_run_sh_target },
    { "review_chat_verbose_load", test_chat_verbose_load },
    { "review_api_null_args", test_api_null_args },
    { "review_threads_range", test_threads_range },
    { "review_prompt_bad_model", test_prompt_bad_model },
    { 0 },
};
