/* test_toolcall.c - tool-call parsing of model replies (every format of spec
 * chat-format.md "Parsing replies", plain text, malformed and hostile bytes) and a
 * mechanical run of the tool-call evaluation on a tiny random model with chat tokens. */
#include "internal.h"
#include "bpe_train.h"
#include "gguf_write.h"
#include "toolcall.h"
#include "test.h"

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

/* parses text (copied to an exact-size buffer so ASan sees any over-read);
 * returns the parse result, name and args in the buffers */
static int parse(const char *text, char *name, size_t ncap, char *args, size_t acap) {
    size_t n = strlen(text);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, text, n);
    char *nm = NULL, *a = NULL;
    int rc = lc_toolcall_parse(buf, n, &nm, &a);
    free(buf);
    name[0] = args[0] = 0;
    if (rc == 1) {
        snprintf(name, ncap, "%s", nm);
        snprintf(args, acap, "%s", a);
    }
    free(nm);
    free(a);
    return rc;
}

/* 1 if the reply parses to exactly this tool and these arguments (compared as JSON) */
static int is_call(const char *text, const char *want_name, const char *want_args) {
    char name[256], args[1024];
    if (parse(text, name, sizeof name, args, sizeof args) != 1) {
        fprintf(stderr, "  no call in: %s\n", text);
        return 0;
    }
    json_error_t e;
    json_t *a = json_loads(args, 0, &e), *b = json_loads(want_args, 0, &e);
    int ok = strcmp(name, want_name) == 0 && a && b && json_equal(a, b);
    if (!ok) fprintf(stderr, "  %s -> %s %s (want %s %s)\n", text, name, args, want_name, want_args);
    json_decref(a);
    json_decref(b);
    return ok;
}

static int no_call(const char *text) {
    char name[256], args[1024];
    int rc = parse(text, name, sizeof name, args, sizeof args);
    if (rc != 0) fprintf(stderr, "  rc %d (%s %s) for: %s\n", rc, name, args, text);
    return rc == 0;
}

static int test_json(void) {
    CHECK(is_call("{\"name\": \"get_current_weather\", \"parameters\": {\"city\": \"Paris\"}}",
                  "get_current_weather", "{\"city\": \"Paris\"}"));
    CHECK(is_call("<|python_tag|>{\"type\": \"function\", \"name\": \"trending_songs\", \"parameters\": "
                  "{\"n\": \"10\", \"genre\": \"all\"}}<|eom_id|>",
                  "trending_songs", "{\"n\": \"10\", \"genre\": \"all\"}"));
    CHECK(is_call("  {\n    \"name\": \"calculator\",\n    \"parameters\": {\n      \"expression\": \"2 + 2\"\n    }\n}\n"
                  "<|eot_id|>", "calculator", "{\"expression\": \"2 + 2\"}"));
    CHECK(is_call("{\"name\": \"f\", \"arguments\": {\"a\": [1, 2, {\"b\": null}]}}", "f",
                  "{\"a\": [1, 2, {\"b\": null}]}"));
    CHECK(is_call("{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}", "f", "{\"a\": 1}"));
    CHECK(is_call("{\"name\": \"current_time\"}", "current_time", "{}"));
    CHECK(is_call("{\"name\": \"convert_units\", \"parameters\": {\"value\": 3.5, \"from_unit\": \"km\", "
                  "\"to_unit\": \"mi\"}}", "convert_units",
                  "{\"value\": 3.5, \"from_unit\": \"km\", \"to_unit\": \"mi\"}"));
    /* a custom-format call of a built-in search tool becomes {"query": first value} */
    CHECK(is_call("{\"name\": \"brave_search\", \"parameters\": {\"q\": \"llamas\"}}", "brave_search",
                  "{\"query\": \"llamas\"}"));
    CHECK(no_call("{\"name\": \"calculator\", \"parameters\": {\"x\": 1}"));      /* unclosed */
    CHECK(no_call("{\"parameters\": {\"x\": 1}}"));                               /* no name */
    CHECK(no_call("{\"type\": \"function\", \"parameters\": {}}"));
    CHECK(no_call("{\"name\": 5, \"parameters\": {}}"));
    CHECK(no_call("{\"name\": \"f\", \"parameters\": [1]}"));                    /* args not an object */
    CHECK(no_call("{\"name\": \"f\", \"parameters\": {}} trailing words"));
    CHECK(no_call("{\"name\": \"\", \"parameters\": {}}"));
    return T_PASS;
}

static int test_function_tag(void) {
    CHECK(is_call("<function=trending_songs>{\"n\": 10}</function><|eot_id|>", "trending_songs", "{\"n\": 10}"));
    CHECK(is_call("Sure. <function=get_weather>{'city': 'Oslo'}</function>", "get_weather", "{\"city\": \"Oslo\"}"));
    CHECK(is_call("<function=f>{\"a\": {\"b\": [1, 2]}, \"c\": \"}\"}</function>", "f",
                  "{\"a\": {\"b\": [1, 2]}, \"c\": \"}\"}"));
    CHECK(is_call("<function=f>{}", "f", "{}"));
    CHECK(no_call("<function=f>{\"a\": </function>"));                              /* bad JSON: no call (Meta) */
    CHECK(no_call("<function=>{\"a\": 1}</function>"));
    CHECK(no_call("<function=f>(a=1)</function>"));
    return T_PASS;
}

static int test_python_list(void) {
    CHECK(is_call("[get_weather(city='San Francisco', metric='celsius'), get_weather(city='Seattle', "
                  "metric='celsius')]<|eot_id|>", "get_weather", "{\"city\": \"San Francisco\", \"metric\": \"celsius\"}"));
    CHECK(is_call("<|python_tag|>[get_weather(city=\"San Francisco\", metric=\"celsius\")]", "get_weather",
                  "{\"city\": \"San Francisco\", \"metric\": \"celsius\"}"));
    CHECK(is_call("[f(a=1, b=-2.5, c=True, d=None, e=\"x\\\"y\\n\", g=[1, 'z', False], h=1e3,)]", "f",
                  "{\"a\": 1, \"b\": -2.5, \"c\": true, \"d\": null, \"e\": \"x\\\"y\\n\", \"g\": [1, \"z\", false], "
                  "\"h\": 1000.0}"));
    CHECK(is_call("[ping()]", "ping", "{}"));
    CHECK(is_call("[f(s='caf\\u00e9')]", "f", "{\"s\": \"caf\xc3\xa9\"}"));
    CHECK(no_call("[f(1)]"));                      /* positional argument */
    CHECK(no_call("[f(a=x)]"));                    /* a variable, not a literal */
    CHECK(no_call("[f(a=1), 3]"));
    CHECK(no_call("[f(a=1)] and more"));
    CHECK(no_call("[1, 2, 3]"));
    CHECK(no_call("[]"));
    CHECK(no_call("[f(a='unterminated)]"));
    return T_PASS;
}

static int test_builtin(void) {
    CHECK(is_call("<|python_tag|>brave_search.call(query=\"latest price of 1oz gold\")<|eom_id|>", "brave_search",
                  "{\"query\": \"latest price of 1oz gold\"}"));
    CHECK(is_call("<|python_tag|>wolfram_alpha.call(query=\"100th decimal of pi\")", "wolfram_alpha",
                  "{\"query\": \"100th decimal of pi\"}"));
    CHECK(is_call("let me search: brave_search.call(query=\"x\")", "brave_search", "{\"query\": \"x\"}"));
    CHECK(is_call("<|python_tag|>def is_prime(n):\n    return n > 1\nprint(is_prime(7))<|eom_id|>", "code_interpreter",
                  "{\"code\": \"def is_prime(n):\\n    return n > 1\\nprint(is_prime(7))\"}"));
    CHECK(no_call(".call(query=\"x\")"));
    CHECK(no_call("brave_search.call(query=\"x\""));
    return T_PASS;
}

static int test_plain_and_bad(void) {
    CHECK(no_call("The answer is 42."));
    CHECK(no_call("I don't know, what is it?"));
    CHECK(no_call("Hello! How can I help you today?"));
    CHECK(no_call(""));
    CHECK(no_call("   \n "));
    CHECK(no_call("<|eot_id|>"));
    CHECK(no_call("<|python_tag|>"));
    CHECK(no_call("{"));
    CHECK(no_call("[f("));
    CHECK(no_call("<function="));
    CHECK(no_call("{\"name\": \"f\xff\", \"parameters\": {}}"));                   /* invalid UTF-8 */
    CHECK(no_call("[f(a='\xc3')]"));
    CHECK(no_call("<|python_tag|>\xfe\xff code"));                                  /* code, but not UTF-8 */
    CHECK(no_call("brave_search.call(query=\"\xe2\x82\")"));
    char *n = NULL, *a = NULL;
    CHECK(lc_toolcall_parse(NULL, 0, &n, &a) == 0 && !n && !a);
    CHECK(lc_toolcall_parse(NULL, 5, &n, &a) == LC_ERR_ARG);
    CHECK(lc_toolcall_parse("x", 1, NULL, &a) == LC_ERR_ARG);
    /* the length is respected: the call ends before the NUL-free tail */
    static const char two[] = "{\"name\": \"f\", \"parameters\": {}}GARBAGE";
    CHECK(lc_toolcall_parse(two, strlen(two) - 7, &n, &a) == 1 && !strcmp(n, "f") && !strcmp(a, "{}"));
    free(n);
    free(a);
    /* random bytes drawn from call-like fragments: never a crash, results always valid */
    static const char *const frag[] = { "{", "}", "[", "]", "(", ")", "\"", "'", ":", ",", "=", " ", "\n",
                                        "name", "parameters", "<function=", "</function>", "<|python_tag|>",
                                        "<|eot_id|>", ".call(query=\"", "f", "1", "-", "True", "\\", "\xff",
                                        "\xc3", "\x00", "e", "u00", "\"name\": \"g\"" };
    uint64_t s = 12345;
    for (int it = 0; it < 20000; it++) {
        char buf[256];
        size_t len = 0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((s >> 40) % 24);
        for (int j = 0; j < k; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const char *f = frag[(s >> 33) % LC_ARRAY_LEN(frag)];
            size_t fl = f[0] ? strlen(f) : 1;
            if (len + fl > sizeof buf) break;
            memcpy(buf + len, f, fl);
            len += fl;
        }
        char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        int rc = lc_toolcall_parse(exact, len, &n, &a);
        free(exact);
        CHECK(rc == 0 || rc == 1);
        if (rc == 1) {
            json_error_t e;
            json_t *j = json_loads(a, 0, &e);
            CHECKF(j && json_is_object(j) && n[0] && lc_utf8_valid(n, strlen(n)), "%s %s", n, a);
            json_decref(j);
        }
        free(n);
        free(a);
        n = a = NULL;
    }
    return T_PASS;
}

/* ---- evaluation on a tiny random model ------------------------------------ */
/* GPT-2 bytes_to_unicode of byte c, UTF-8 encoded into out (2 bytes at most) */
static int byte_str(int c, char *out) {
    uint32_t cp;
    if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE) cp = (uint32_t)c;
    else if (c <= 0x20) cp = 256u + (uint32_t)c;
    else if (c <= 0xA0) cp = 289u + (uint32_t)(c - 0x7F);
    else cp = 323;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static int fill_from(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    const lc_gguf *g = ud;
    const lc_tensor *t = &g->tensors[ti];
    size_t row_bytes;
    lc_type_row_bytes(t->type, t->ne[0], &row_bytes);
    memcpy(dst, (const uint8_t *)t->data + (size_t)row0 * row_bytes, (size_t)n_rows * row_bytes);
    return LC_OK;
}

/* the shared 512-token tiny model with a Llama 3 tokenizer of 256 bytes + 256 specials */
static int make_chat_model(const char *path) {
    const char *src = t_shared("vectors/tiny/model-f32.gguf");
    if (!src) return 1;
    lc_gguf g;
    if (lc_gguf_open(src, &g) != LC_OK) return -1;
    lc_gguf_writer *w;
    int rc = lc_gguf_writer_new(&w);
    for (int64_t i = 0; !rc && i < g.n_kv; i++)
        if (strncmp(g.kv[i].key, "tokenizer.", 10) != 0) rc = lc_gguf_copy_kv(w, &g.kv[i]);
    char strs[256][80];
    lc_str toks[512];
    int32_t types[512];
    for (int i = 0; i < 512; i++) {
        if (i < 256) {
            toks[i].p = strs[i];
            toks[i].len = (size_t)byte_str(i, strs[i]);
            types[i] = 1;
        } else {
            static char sp[256][48];
            lc_bpe_special_name(i - 256, sp[i - 256], sizeof sp[0]);
            toks[i].p = sp[i - 256];
            toks[i].len = strlen(sp[i - 256]);
            types[i] = 3;
        }
    }
    if (!rc) rc = lc_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    if (!rc) rc = lc_gguf_set_str(w, "tokenizer.ggml.pre", "llama-bpe", 9);
    if (!rc) rc = lc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 512);
    if (!rc) rc = lc_gguf_set_arr(w, "tokenizer.ggml.token_type", LC_GGUF_I32, types, 512);
    if (!rc) rc = lc_gguf_set_arr_str(w, "tokenizer.ggml.merges", toks, 0);
    if (!rc) rc = lc_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 256);
    if (!rc) rc = lc_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 256 + 9);
    for (int64_t i = 0; !rc && i < g.n_tensors; i++)
        rc = lc_gguf_add_tensor(w, g.tensors[i].name, g.tensors[i].type, g.tensors[i].n_dims, g.tensors[i].ne);
    if (!rc) rc = lc_gguf_write(w, path, fill_from, &g, NULL, NULL);
    lc_gguf_writer_free(w);
    lc_gguf_close(&g);
    return rc ? -1 : 0;
}

static int test_eval_mechanics(void) {
    char model[4096], prompts[4096];
    snprintf(model, sizeof model, "%s/chat-tiny.gguf", t_tmpdir());
    snprintf(prompts, sizeof prompts, "%s/prompts.jsonl", t_tmpdir());
    int mk = make_chat_model(model);
    if (mk == 1) return T_SKIP;
    CHECKF(mk == 0, "%s", lc_last_error());
    FILE *f = fopen(prompts, "w");
    CHECK(f);
    /* short prompts fit the 256-token context; the one with tools does not (an error, counted) */
    fputs("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}], \"expected\": null}\n", f);
    fputs("{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}], "
          "\"expected\": {\"name\": \"calculator\", \"arguments\": {\"expression\": \"2+2\"}}}\n", f);
    fputs("\n", f);
    fputs("{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Oslo?\"}], \"tools\": [{\"type\": "
          "\"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather for a city, "
          "with a long description so that the prompt does not fit the tiny context at one byte per token, "
          "which it surely will not with all the template text around it.\", \"parameters\": {\"type\": "
          "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}], "
          "\"expected\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}}\n", f);
    fputs("not json\n", f);
    fclose(f);
    lc_model *m;
    CHECKF(lc_model_load(model, NULL, &m) == LC_OK, "%s", lc_last_error());
    lc_toolcall_stats st;
    int rc = lc_toolcall_eval(m, prompts, 0, NULL, &st);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    CHECK(st.n_prompts == 4 && st.n_errors == 2);
    CHECK(st.n_call_expected == 2 && st.n_nocall_expected == 1);
    CHECK(st.n_right_tool <= st.n_wellformed && st.n_exact_args <= st.n_right_tool);
    CHECK(st.n_gen_tokens > 0);
    CHECK(lc_toolcall_eval(m, prompts, 1, NULL, &st) == LC_OK && st.n_prompts == 1);
    CHECK(lc_toolcall_eval(m, "/nonexistent.jsonl", 0, NULL, &st) == LC_ERR_IO);
    /* the cached common prefix gives the same reply as a fresh evaluation: prompt B after
     * prompt A (sharing the system header) and alone; the random model misses, so the log
     * shows the reply */
    static const char *const pa = "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 12 * 7?\"}], "
                                  "\"expected\": {\"name\": \"calculator\", \"arguments\": {\"expression\": \"12 * 7\"}}}\n";
    static const char *const pb = "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 9 + 9?\"}], "
                                  "\"expected\": {\"name\": \"calculator\", \"arguments\": {\"expression\": \"9 + 9\"}}}\n";
    char got[2][4096];
    for (int k = 0; k < 2; k++) {
        f = fopen(prompts, "w");
        CHECK(f);
        if (k == 0) fputs(pa, f);
        fputs(pb, f);
        fclose(f);
        FILE *log = tmpfile();
        CHECK(log);
        CHECK(lc_toolcall_eval(m, prompts, 0, log, &st) == LC_OK && st.n_prompts == 2 - k);
        rewind(log);
        char line[4096] = "";
        while (fgets(line, sizeof line, log) && !strstr(line, "9 + 9")) {}
        fclose(log);
        const char *g = strstr(line, "got: ");
        CHECKF(g, "no log line for prompt B: %s", line);
        snprintf(got[k], sizeof got[k], "%s", g);
    }
    CHECKF(!strcmp(got[0], got[1]), "%s vs %s", got[0], got[1]);
    lc_model_free(m);
    /* a model without chat tokens is refused clearly */
    const char *plain = t_shared("vectors/tiny/model-f32.gguf");
    CHECK(lc_model_load(plain, NULL, &m) == LC_OK);
    CHECK(lc_toolcall_eval(m, prompts, 0, NULL, &st) == LC_ERR_UNSUPPORTED);
    lc_model_free(m);
    return T_PASS;
}

/* ---- the dataset generator (tools/gen_toolchat.c), when it is built ------------ */
/* $LC_GEN_TOOLCHAT, else gen_toolchat next to the llamac binary's build folder */
static const char *gen_path(void) {
    static char path[4096];
    const char *env = getenv("LC_GEN_TOOLCHAT");
    if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
    const char *bin = getenv("LLAMAC_BIN");
    if (!bin || !*bin) bin = "./llamac";
    const char *slash = strrchr(bin, '/');
    size_t dl = slash ? (size_t)(slash - bin) : 0;
    if (!slash || (dl == 1 && bin[0] == '.')) snprintf(path, sizeof path, "build/gen_toolchat");
    else snprintf(path, sizeof path, "%.*s/gen_toolchat", (int)dl, bin);
    return access(path, X_OK) == 0 ? path : NULL;
}

/* runs the generator into a file; returns its exit status */
static int gen_run(const char *args, const char *out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s > '%s' 2>/dev/null", gen_path(), args, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *load_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t e;
        json_t *j = json_loadb(line, (size_t)n, 0, &e);
        json_array_append_new(arr, j ? j : json_null());
    }
    free(line);
    fclose(f);
    return arr;
}

/* the reply text the template writes for the assistant message after `upto` messages */
static int rendered_call_roundtrips(const json_t *conv, size_t mi) {
    const json_t *m = json_array_get(json_object_get(conv, "messages"), mi);
    const json_t *fn = json_object_get(json_array_get(json_object_get(m, "tool_calls"), 0), "function");
    json_t *req = json_deep_copy(conv);
    json_array_clear(json_object_get(req, "messages"));
    for (size_t i = 0; i <= mi; i++)
        json_array_append(json_object_get(req, "messages"), json_array_get(json_object_get(conv, "messages"), i));
    char *js = json_dumps(req, 0), *txt = NULL;
    json_decref(req);
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.add_generation_prompt = 0;
    int ok = js && lc_chat_render_json(js, strlen(js), &o, &txt) == LC_OK;
    free(js);
    static const char hdr[] = "<|start_header_id|>assistant<|end_header_id|>\n\n";
    const char *last = NULL;
    for (const char *p = txt; ok && (p = strstr(p, hdr)); p++) last = p;
    ok = ok && last;
    char *nm = NULL, *args = NULL;
    if (ok) {
        const char *body = last + strlen(hdr);
        ok = lc_toolcall_parse(body, strlen(body), &nm, &args) == 1;
    }
    if (ok) {
        json_error_t e;
        json_t *want = json_loads(json_string_value(json_object_get(fn, "arguments")), 0, &e);
        json_t *got = json_loads(args, 0, &e);
        ok = !strcmp(nm, json_string_value(json_object_get(fn, "name"))) && json_equal(want, got);
        json_decref(want);
        json_decref(got);
    }
    free(nm);
    free(args);
    free(txt);
    return ok;
}

static int test_generator(void) {
    if (!gen_path()) return T_SKIP;
    char a[4096], b[4096], h[4096], ev[4096], bad[4096];
    snprintf(a, sizeof a, "%s/gen_a.jsonl", t_tmpdir());
    snprintf(b, sizeof b, "%s/gen_b.jsonl", t_tmpdir());
    snprintf(h, sizeof h, "%s/gen_h.jsonl", t_tmpdir());
    snprintf(ev, sizeof ev, "%s/gen_eval.jsonl", t_tmpdir());
    snprintf(bad, sizeof bad, "%s/gen_bad.txt", t_tmpdir());
    CHECK(gen_run("--seed 3 --n 400", a) == 0);
    CHECK(gen_run("--seed 3 --n 400", b) == 0);
    CHECK(gen_run("--seed 3 --n 300 --split heldout", h) == 0);
    CHECK(gen_run("--seed 3 --n 300 --eval-prompts", ev) == 0);
    size_t na, nb;
    char *x = NULL, *y = NULL;
    CHECK(lc_read_file(a, &x, &na, 1 << 26) == LC_OK && lc_read_file(b, &y, &nb, 1 << 26) == LC_OK);
    CHECK(na == nb && !memcmp(x, y, na));                      /* deterministic */
    free(x);
    free(y);
    json_t *train = load_lines(a), *held = load_lines(h), *evals = load_lines(ev);
    CHECK(json_array_size(train) == 400 && json_array_size(held) == 300 && json_array_size(evals) == 300);
    int n_calls = 0, n_plain = 0, n_multi = 0;
    size_t i, k;
    json_t *c, *m;
    json_array_foreach(train, i, c) {
        CHECKF(json_is_object(c), "line %zu", i);
        char *js = json_dumps(c, 0), *txt = NULL;
        CHECKF(lc_chat_render_json(js, strlen(js), NULL, &txt) == LC_OK, "line %zu: %s", i, lc_last_error());
        free(js);
        free(txt);
        json_t *msgs = json_object_get(c, "messages");
        int users = 0;
        json_array_foreach(msgs, k, m) {
            const char *role = json_string_value(json_object_get(m, "role"));
            users += !strcmp(role, "user");
            if (json_object_get(m, "tool_calls")) {
                n_calls++;
                CHECKF(rendered_call_roundtrips(c, k), "line %zu message %zu", i, k);
                const json_t *next = json_array_get(msgs, k + 1);
                CHECK(!strcmp(json_string_value(json_object_get(next, "role")), "tool"));
            } else if (!strcmp(role, "assistant") && k && !strcmp(json_string_value(json_object_get(
                           json_array_get(msgs, k - 1), "role")), "user")) {
                n_plain++;
            }
        }
        n_multi += users > 1;
    }
    CHECKF(n_calls > 250 && n_plain > 60 && n_multi > 40, "%d calls, %d plain, %d multi-turn", n_calls, n_plain, n_multi);
    /* held-out user messages never occur in the train split */
    json_t *seen = json_object();
    json_array_foreach(train, i, c) json_array_foreach(json_object_get(c, "messages"), k, m)
        if (!strcmp(json_string_value(json_object_get(m, "role")), "user"))
            json_object_set_new(seen, json_string_value(json_object_get(m, "content")), json_true());
    int n_expect = 0, n_null = 0;
    json_array_foreach(evals, i, c) {
        json_t *msgs = json_object_get(c, "messages"), *exp = json_object_get(c, "expected");
        json_t *lastm = json_array_get(msgs, json_array_size(msgs) - 1);
        CHECK(!strcmp(json_string_value(json_object_get(lastm, "role")), "user"));
        CHECK(!json_object_get(seen, json_string_value(json_object_get(lastm, "content"))));
        CHECK(exp && (json_is_null(exp) || json_is_object(json_object_get(exp, "arguments"))));
        if (json_is_null(exp)) {
            n_null++;
            continue;
        }
        n_expect++;
        int listed = 0;
        json_t *tl;
        json_array_foreach(json_object_get(c, "tools"), k, tl)
            listed |= !strcmp(json_string_value(json_object_get(json_object_get(tl, "function"), "name")),
                              json_string_value(json_object_get(exp, "name")));
        CHECK(listed);
    }
    CHECKF(n_expect > 150 && n_null > 30, "%d calls, %d no-call", n_expect, n_null);
    json_decref(seen);
    json_decref(train);
    json_decref(held);
    json_decref(evals);
    CHECK(gen_run("--seed 3", bad) == 2);
    CHECK(gen_run("--n 3 --split sideways", bad) == 2);
    CHECK(gen_run("--n -1", bad) == 2);
    CHECK(gen_run("--n 2 --render", bad) == 0);
    return T_PASS;
}

const lc_test_case tests_toolcall[] = {
    { "toolcall_json", test_json },
    { "toolcall_function_tag", test_function_tag },
    { "toolcall_python_list", test_python_list },
    { "toolcall_builtin", test_builtin },
    { "toolcall_plain_and_bad", test_plain_and_bad },
    { "toolcall_eval_mechanics", test_eval_mechanics },
    { "toolcall_generator", test_generator },
    { NULL, NULL },
};
