/* test_cli.c - runs the built llamac program (t_run_llamac): usage texts, usage errors,
 * tokenize/detokenize, prompt rendering, info, logits and greedy output on the tiny
 * model, load errors, and chat from a pipe. */
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------- */
/* runs llamac with printf-style args; *out gets stdout+stderr */



static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static int count_str(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* the value of an info line "key:   value" (to the end of the line), or NULL */
static const char *info_value(const char *out, const char *key, char *buf, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) || p[kl] != ':') continue;
        p += kl + 1;
        while (*p == ' ') p++;
        size_t n = strcspn(p, "\n");
        if (n >= cap) n = cap - 1;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
    }
    return NULL;
}

/* ids of a JSON array as "a b c" */
static int json_ids(const json_t *arr, char *buf, size_t cap, int *n) {
    size_t p = 0;
    *n = 0;
    if (!json_is_array(arr)) return -1;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v)) return -1;
        int k = snprintf(buf + p, cap - p, "%s%lld", i ? " " : "", (long long)json_integer_value(v));
        if (k < 0 || (size_t)k >= cap - p) return -1;
        p += (size_t)k;
        ++*n;
    }
    return 0;
}

static const char *tiny(const char *file) {
    static char buf[4][1024];
    static int slot;
    char rel[256];
    snprintf(rel, sizeof rel, "vectors/tiny/%s", file);
    const char *p = t_shared(rel);
    if (!p) return NULL;
    char *b = buf[slot++ & 3];
    snprintf(b, sizeof buf[0], "%s", p);
    return b;
}

/* ---- usage ------------------------------------------------------------ */
static int test_help(void) {
    static const struct { const char *cmd; const char *flags[24]; } cases[] = {
        { "run", { "-m", "--model", "-p", "-f", "--tokens", "-n", "--ctx", "-t", "--temp", "--top-k",
                   "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n", "--frequency-penalty",
                   "--presence-penalty", "--seed", "--stop", "--special", "--no-bos", "--verbose",
                   "--print-ids", NULL } },
        { "chat", { "-m", "--system", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                    "--seed", "--stop", "--ctx", "-t", "--date", "--verbose", "-n", "/reset", "/exit",
                    NULL } },
        { "prompt", { "-m", "-f", "--date", "--no-generation-prompt", NULL } },
        { "tokenize", { "-m", "-f", "--bos", "--special", "--pieces", NULL } },
        { "detokenize", { "-m", NULL } },
        { "logits", { "-m", "--tokens", "-o", "--ctx", "-t", NULL } },
        { "info", { "-m", "--ctx", "--tensors", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int h = 0; h < 2; h++) {
            char *out;
            int rc = t_run(&out, "%s %s", cases[i].cmd, h ? "-h" : "--help");
            CHECKF(rc == 0, "%s --help exit %d", cases[i].cmd, rc);
            CHECKF(strstr(out, "usage: llamac") != NULL, "%s", cases[i].cmd);
            for (int f = 0; cases[i].flags[f]; f++)
                CHECKF(strstr(out, cases[i].flags[f]) != NULL, "%s --help lacks %s", cases[i].cmd,
                       cases[i].flags[f]);
            free(out);
        }
    }
    char *out;
    CHECK(t_run(&out, "--help") == 0);
    CHECK(strstr(out, "tokenize") && strstr(out, "chat") && strstr(out, "logits") && strstr(out, "info"));
    free(out);
    CHECK(t_run(&out, "--version") == 0);
    CHECK(strstr(out, "llamac ") != NULL);
    free(out);
    return T_PASS;
}

static int test_usage_errors(void) {
    static const char *const bad[] = {
        "",
        "frobnicate",
        "run --frobnicate",
        "run -p hi",                                  /* missing -m */
        "run -m x.gguf",                              /* no prompt */
        "run -m x.gguf -p hi -n abc",
        "run -m x.gguf -p hi -n 12x",
        "run -m x.gguf -p hi -n ''",
        "run -m x.gguf -p hi --temp warm",
        "run -m x.gguf -p hi --top-p 1.5",
        "run -m x.gguf -p hi --seed -1",
        "run -m x.gguf -p hi -t",
        "run -m x.gguf -p hi extra",
        "chat --bogus",
        "chat",
        "chat -m x.gguf --ctx 0",
        "tokenize hello",
        "tokenize -m x.json --nope hello",
        "prompt",
        "prompt -f x.json --nope",
        "logits -m x.gguf -o out.f32",
        "logits -m x.gguf --tokens '1 2'",
        "info",
        "info -m x.gguf --ctx -5",
        "detokenize 1 2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out;
        int rc = t_run(&out, "%s </dev/null", bad[i]);
        CHECKF(rc == 1, "'%s' exit %d", bad[i], rc);
        if (bad[i][0]) CHECKF(strncmp(out, "error: ", 7) == 0, "'%s' said: %s", bad[i], out);
        free(out);
    }
    return T_PASS;
}

/* ---- tokenizer ----------------------------------------------------------- */
static int test_tokenize(void) {
    const char *tj = t_shared("data/tokenizer/tokenizer.json");
    if (!tj) return T_SKIP;
    char *out;
    CHECK(t_run(&out, "tokenize -m '%s' 'Hello, world!'", tj) == 0);
    CHECKF(!strcmp(out, "9906 11 1917 0\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize -m '%s' Hello, 'world!'", tj) == 0);    /* joined with a space */
    CHECKF(!strcmp(out, "9906 11 1917 0\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize --bos --model '%s' 'Hello, world!'", tj) == 0);
    CHECKF(!strcmp(out, "128000 9906 11 1917 0\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize -m '%s' --special '<|eot_id|>'", tj) == 0);
    CHECKF(!strcmp(out, "128009\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize -m '%s' '<|eot_id|>'", tj) == 0);
    CHECKF(!strcmp(out, "27 91 68 354 851 91 29\n"), "got '%s'", out);
    free(out);

    char path[512];
    snprintf(path, sizeof path, "%s/hello.txt", t_tmpdir());
    CHECK(t_write_file(path, "Hello, world!", 13) == 0);
    CHECK(t_run(&out, "tokenize -m '%s' -f '%s'", tj, path) == 0);
    CHECKF(!strcmp(out, "9906 11 1917 0\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize -m '%s' < '%s'", tj, path) == 0);
    CHECKF(!strcmp(out, "9906 11 1917 0\n"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "tokenize -m '%s' --pieces 'Hello, world!'", tj) == 0);
    CHECKF(!strcmp(out, "9906\tHello\n11\t,\n1917\t world\n0\t!\n"), "got '%s'", out);
    free(out);

    CHECK(t_run(&out, "detokenize -m '%s' 9906 11 1917 0", tj) == 0);
    CHECKF(!strcmp(out, "Hello, world!"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "detokenize -m '%s' '9906, 11,1917 0'", tj) == 0);
    CHECKF(!strcmp(out, "Hello, world!"), "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "detokenize -m '%s' 9906 99999999", tj) == 1);
    CHECK(strncmp(out, "error: ", 7) == 0);
    free(out);
    return T_PASS;
}

/* ---- prompt --------------------------------------------------------------- */
static int test_prompt(void) {
    static const char req[] =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of Singapore?\"},"
        " {\"role\": \"assistant\", \"content\": \"I don't know, what is it?\"}]}";
    static const char head[] =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
        "December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>"
        "\n\nWhat is the capital of Singapore?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n\nI don't know, what is it?<|eot_id|>";
    char path[512], expect[1024];
    snprintf(path, sizeof path, "%s/request.json", t_tmpdir());
    CHECK(t_write_file(path, req, sizeof req - 1) == 0);
    char *out;
    CHECK(t_run(&out, "prompt -f '%s' --no-generation-prompt", path) == 0);
    CHECKF(!strcmp(out, head), "got '%s'", out);
    free(out);
    snprintf(expect, sizeof expect, "%s<|start_header_id|>assistant<|end_header_id|>\n\n", head);
    CHECK(t_run(&out, "prompt -f - < '%s'", path) == 0);
    CHECKF(!strcmp(out, expect), "got '%s'", out);
    free(out);

    /* the date option shows up in the system header */
    CHECK(t_run(&out, "prompt -f '%s' --date '1 Jan 2025'", path) == 0);
    CHECK(strstr(out, "Today Date: 1 Jan 2025\n") != NULL);
    free(out);

    /* malformed request: one error line naming the file */
    CHECK(t_write_file(path, "{\"messages\": [", 14) == 0);
    CHECK(t_run(&out, "prompt -f '%s'", path) == 1);
    CHECKF(strncmp(out, "error: ", 7) == 0 && count_lines(out) == 1, "got '%s'", out);
    free(out);
    CHECK(t_run(&out, "prompt -f '%s/missing.json'", t_tmpdir()) == 1);
    CHECK(strncmp(out, "error: ", 7) == 0);
    free(out);
    return T_PASS;
}

/* ---- model commands --------------------------------------------------------- */
static int test_info(void) {
    const char *m = tiny("model-f32.gguf");
    if (!m) return T_SKIP;
    char *out, v[256];
    CHECK(t_run(&out, "info -m '%s' --tensors", m) == 0);
    CHECKF(info_value(out, "dim", v, sizeof v) && !strcmp(v, "64"), "%s", out);
    CHECK(info_value(out, "layers", v, sizeof v) && !strcmp(v, "2"));
    CHECK(info_value(out, "heads", v, sizeof v) && !strncmp(v, "4 (kv heads 2, head_dim 16)", 27));
    CHECK(info_value(out, "vocab", v, sizeof v) && !strcmp(v, "512"));
    CHECK(info_value(out, "ffn", v, sizeof v) && !strcmp(v, "192"));
    CHECK(info_value(out, "context length", v, sizeof v) && !strcmp(v, "256"));
    CHECK(info_value(out, "rope theta", v, sizeof v) && !strcmp(v, "500000"));
    CHECK(info_value(out, "rope scaling", v, sizeof v) && !strncmp(v, "llama3", 6));
    CHECK(info_value(out, "architecture", v, sizeof v) && !strcmp(v, "llama"));
    CHECK(info_value(out, "tensors", v, sizeof v) && !strcmp(v, "22"));
    CHECK(info_value(out, "bos / eos", v, sizeof v) && !strcmp(v, "510 / 511"));
    CHECK(info_value(out, "memory", v, sizeof v) && strstr(v, "KV cache"));
    CHECK(strstr(out, "token_embd.weight") != NULL);
    free(out);
    return T_PASS;
}

static int test_logits(void) {
    const char *m = tiny("model-f32.gguf"), *ref = tiny("logits_seq7.f32"), *tj = tiny("tokens.json");
    if (!m || !ref || !tj) return T_SKIP;
    json_error_t je;
    json_t *root = json_load_file(tj, 0, &je);
    CHECK(root != NULL);
    char ids[4096];
    int n;
    int ok = json_ids(json_object_get(root, "seq7"), ids, sizeof ids, &n) == 0;
    json_decref(root);
    CHECK(ok && n == 7);

    char path[512], *out;
    snprintf(path, sizeof path, "%s/logits7.f32", t_tmpdir());
    int rc = t_run(&out, "logits -m '%s' --tokens '%s' -o '%s'", m, ids, path);
    CHECKF(rc == 0, "exit %d: %s", rc, out);
    free(out);
    size_t na, nb;
    float *a = t_slurp(path, &na), *b = t_slurp(ref, &nb);
    CHECK(a && b);
    CHECKF(na == 7 * 512 * 4 && nb == na, "%zu bytes, reference %zu", na, nb);
    double worst = 0;
    for (size_t i = 0; i < na / 4; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;    /* NaN counts as worst */
    }
    free(a);
    free(b);
    CHECKF(worst <= 2e-4, "max abs diff %g", worst);

    /* bad ids */
    static const char *const bad[] = { "510 x", "510 512", "510 -1", "1.5", "", "510 99999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = t_run(&out, "logits -m '%s' --tokens '%s' -o '%s'", m, bad[i], path);
        CHECKF(rc == 1 && !strncmp(out, "error: ", 7), "'%s': exit %d: %s", bad[i], rc, out);
        free(out);
    }
    return T_PASS;
}

static int test_greedy(void) {
    const char *m = tiny("model-f32.gguf"), *ej = tiny("expected.json");
    if (!m || !ej) return T_SKIP;
    json_error_t je;
    json_t *root = json_load_file(ej, 0, &je);
    CHECK(root != NULL);
    json_t *gr = json_object_get(root, "greedy");
    char prompt[4096], expect[4096];
    int np, ne;
    int ok = json_ids(json_object_get(gr, "prompt"), prompt, sizeof prompt, &np) == 0 &&
             json_ids(json_object_get(json_object_get(gr, "ids"), "f32"), expect, sizeof expect, &ne) == 0;
    json_decref(root);
    CHECK(ok && ne == 32);

    char *out;
    int rc = t_run(&out, "run -m '%s' --tokens '%s' --temp 0 -n 32 --print-ids", m, prompt);
    CHECKF(rc == 0, "exit %d: %s", rc, out);
    CHECKF(!strncmp(out, expect, strlen(expect)) && out[strlen(expect)] == '\n', "got '%s'\nwant '%s'",
           out, expect);
    free(out);

    /* text mode, verbose: the stop reason is "length" */
    rc = t_run(&out, "run -m '%s' --tokens '%s' --temp 0 -n 5 --verbose", m, prompt);
    CHECKF(rc == 0 && strstr(out, "stop: length\n"), "exit %d: %s", rc, out);
    free(out);

    /* a prompt longer than the context */
    rc = t_run(&out, "run -m '%s' --tokens '%s' --ctx 4", m, prompt);
    CHECKF(rc == 1 && strstr(out, "error: prompt is 8 tokens, context is 4 (use --ctx)"), "exit %d: %s",
           rc, out);
    free(out);
    rc = t_run(&out, "run -m '%s' -p 'hello there, a longer prompt' --ctx 4", m);
    CHECKF(rc == 1 && strstr(out, "error: prompt is ") && strstr(out, "context is 4"), "exit %d: %s", rc,
           out);
    free(out);

    /* text prompt: exits 0 and says why it stopped */
    rc = t_run(&out, "run -m '%s' -p 'abc' --temp 0 -n 4 --verbose", m);
    CHECKF(rc == 0 && strstr(out, "stop: "), "exit %d: %s", rc, out);
    free(out);
    return T_PASS;
}

static int test_load_errors(void) {
    char *out, path[512];
    int rc = t_run(&out, "info -m '%s/does-not-exist.gguf'", t_tmpdir());
    CHECKF(rc == 1 && !strncmp(out, "error: ", 7) && strstr(out, "does-not-exist.gguf") &&
               count_lines(out) == 1, "exit %d: %s", rc, out);
    free(out);
    rc = t_run(&out, "run -m '%s/does-not-exist.gguf' -p hi", t_tmpdir());
    CHECKF(rc == 1 && !strncmp(out, "error: ", 7), "exit %d: %s", rc, out);
    free(out);

    const char *q8 = tiny("model-q8_0.gguf");
    if (!q8) return T_SKIP;
    size_t n;
    char *data = t_slurp(q8, &n);
    CHECK(data && n > 1000);
    snprintf(path, sizeof path, "%s/truncated.gguf", t_tmpdir());
    CHECK(t_write_file(path, data, 1000) == 0);
    free(data);
    static const char *const cmds[] = { "info -m '%s'", "run -m '%s' -p hi", "chat -m '%s' </dev/null",
                                        "logits -m '%s' --tokens 1 -o /dev/null" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cmds[i], path);
        rc = t_run(&out, "%s", args);
        CHECKF(rc == 1 && !strncmp(out, "error: ", 7) && strstr(out, "truncated.gguf") &&
                   count_lines(out) == 1, "%s: exit %d: %s", args, rc, out);
        free(out);
    }
    return T_PASS;
}

static int test_chat_pipe(void) {
    const char *m = tiny("model-f32.gguf");
    if (!m) return T_SKIP;
    char path[512], *out;
    snprintf(path, sizeof path, "%s/chat-in.txt", t_tmpdir());
    CHECK(t_write_file(path, "hi\nthere\n", 9) == 0);
    int rc = t_run(&out, "chat -m '%s' -n 8 --temp 0 --verbose < '%s'", m, path);
    CHECKF(rc == 0, "exit %d: %s", rc, out);
    CHECKF(count_str(out, "stop: ") == 2, "%s", out);
    CHECK(count_lines(out) >= 2);
    free(out);
    return T_PASS;
}

const lc_test_case tests_cli[] = {
    { "cli_help", test_help },
    { "cli_usage_errors", test_usage_errors },
    { "cli_tokenize", test_tokenize },
    { "cli_prompt", test_prompt },
    { "cli_info", test_info },
    { "cli_logits", test_logits },
    { "cli_greedy", test_greedy },
    { "cli_load_errors", test_load_errors },
    { "cli_chat_pipe", test_chat_pipe },
    { 0 },
};
