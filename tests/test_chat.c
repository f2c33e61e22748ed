/* test_chat.c - chat renderer: golden prompts rendered by jinja2 from the official
 * template (scripts/gen_chat_golden.py), Python-identical JSON, malformed requests,
 * and tokenization with special tokens only where the template put them. */
#include "internal.h"
#include "pyjson.h"
#include "test.h"

#include <dirent.h>
#include <jansson.h>

/* ---- helpers ------------------------------------------------------ */
static char *slurp(const char *path, size_t *len) {
    char *p = NULL;
    size_t n = 0;
    if (lc_read_file(path, &p, &n, 1 << 24) != LC_OK) return NULL;
    if (len) *len = n;
    return p;
}

/* opts from the golden request's own fields (date, add_generation_prompt, ...) */
static void golden_opts(const char *json, size_t len, lc_chat_opts *o) {
    lc_chat_opts_default(o);
    json_t *req = json_loadb(json, len, 0, NULL);
    if (!req) return;
    static char date[64];
    const json_t *v;
    if ((v = json_object_get(req, "date")) && json_is_string(v)) {
        snprintf(date, sizeof date, "%s", json_string_value(v));
        o->date = date;
    }
    if ((v = json_object_get(req, "add_generation_prompt"))) o->add_generation_prompt = json_is_true(v);
    if ((v = json_object_get(req, "tools_in_user_message"))) o->tools_in_user_message = json_is_true(v);
    json_decref(req);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted base names (no .json) of the requests in tests/data/chat; returns count, -1 on error */
static int golden_names(char ***out) {
    DIR *d = opendir(t_data("chat"));
    if (!d) return -1;
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *names);
        if (!nn) break;
        names = nn;
        char *nm = malloc(l - 4);
        if (!nm) break;
        memcpy(nm, e->d_name, l - 5);
        nm[l - 5] = 0;
        names[n++] = nm;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    *out = names;
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void show_diff(const char *want, const char *got) {
    size_t i = 0;
    while (want[i] && want[i] == got[i]) i++;
    fprintf(stderr, "  first difference at byte %zu\n  want: %.80s\n  got:  %.80s\n", i,
            want + i, got + i);
}

/* ---- golden prompts ------------------------------------------------ */
static int test_chat_golden(void) {
    char **names;
    int n = golden_names(&names);
    CHECKF(n >= 30, "found %d golden requests in tests/data/chat", n);
    int bad = 0, n_ok = 0, n_err = 0;
    for (int i = 0; i < n; i++) {
        char path[512];
        size_t jl;
        snprintf(path, sizeof path, "chat/%s.json", names[i]);
        char *json = slurp(t_data(path), &jl);
        snprintf(path, sizeof path, "chat/%s.txt", names[i]);
        char *want = slurp(t_data(path), NULL);
        if (!json) {
            fprintf(stderr, "  %s: cannot read\n", names[i]);
            bad++;
            continue;
        }
        lc_chat_opts o;
        golden_opts(json, jl, &o);
        char *got = NULL;
        int rc = lc_chat_render_json(json, jl, &o, &got);
        if (want) {
            n_ok++;
            if (rc != LC_OK) {
                fprintf(stderr, "  %s: error %d: %s\n", names[i], rc, lc_last_error());
                bad++;
            } else if (strcmp(want, got) != 0) {
                fprintf(stderr, "  %s: differs from jinja2\n", names[i]);
                show_diff(want, got);
                bad++;
            }
        } else {
            n_err++;   /* the template raises (.err): so must we */
            if (rc != LC_ERR_FORMAT) {
                fprintf(stderr, "  %s: expected LC_ERR_FORMAT, got %d\n", names[i], rc);
                bad++;
            }
        }
        free(got);
        free(want);
        free(json);
    }
    free_names(names, n);
    CHECKF(bad == 0, "%d golden cases failed", bad);
    CHECK(n_ok >= 25 && n_err >= 5);
    return T_PASS;
}

/* the exact strings of spec chat-format.md 5.1 and 5.3 */
static int test_chat_spec_strings(void) {
    static const char req51[] =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of Singapore?\"},"
        " {\"role\": \"assistant\", \"content\": \"I don't know, what is it?\"}]}";
    static const char want51[] =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
        "December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>"
        "\n\nWhat is the capital of Singapore?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n\nI don't know, what is it?<|eot_id|>";
    static const char req53[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"You are a helpful assistant.\"},"
        "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"},"
        "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", \"type\": "
        "\"function\", \"function\": {\"name\": \"get_current_weather\", \"arguments\": "
        "\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
        "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": "
        "\"{\\\"temperature_c\\\": 18, \\\"condition\\\": \\\"cloudy\\\"}\"}],"
        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_current_weather\", "
        "\"description\": \"Get the current weather for a city\", \"parameters\": {\"type\": "
        "\"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City "
        "name\"}}, \"required\": [\"city\"]}}}]}";
    static const char want53[] =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful "
        "assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following "
        "functions, please respond with a JSON for a function call with its proper arguments that "
        "best answers the given prompt.\n\nRespond in the format {\"name\": function name, "
        "\"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n"
        "    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_current_weather\",\n"
        "        \"description\": \"Get the current weather for a city\",\n        \"parameters\": {\n"
        "            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n"
        "                    \"type\": \"string\",\n                    \"description\": \"City name\"\n"
        "                }\n            },\n            \"required\": [\n                \"city\"\n"
        "            ]\n        }\n    }\n}\n\nWhat is the weather in Paris?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_current_weather\", "
        "\"parameters\": {\"city\": \"Paris\"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>"
        "\n\n\"{\\\"temperature_c\\\": 18, \\\"condition\\\": \\\"cloudy\\\"}\"<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n";
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.add_generation_prompt = 0;
    char *got = NULL;
    CHECKF(lc_chat_render_json(req51, sizeof req51 - 1, &o, &got) == LC_OK, "%s", lc_last_error());
    int same = strcmp(got, want51) == 0;
    if (!same) show_diff(want51, got);
    free(got);
    CHECK(same);
    o.add_generation_prompt = 1;
    CHECKF(lc_chat_render_json(req53, sizeof req53 - 1, &o, &got) == LC_OK, "%s", lc_last_error());
    same = strcmp(got, want53) == 0;
    if (!same) show_diff(want53, got);
    free(got);
    CHECK(same);
    return T_PASS;
}

/* the struct form goes through the same renderer */
static int test_chat_struct_form(void) {
    lc_chat_msg msgs[] = {
        { "system", "  You are terse.\n" },
        { "user", "Hi" },
        { "assistant", "Hello" },
        { "tool", "42" },
        { "user", NULL },
    };
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.date = "01 Jan 2025";
    char *got = NULL;
    CHECKF(lc_chat_render(msgs, 5, &o, &got) == LC_OK, "%s", lc_last_error());
    const char *want =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
        "December 2023\nToday Date: 01 Jan 2025\n\nYou are terse.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello"
        "<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"42\"<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|><|start_header_id|>assistant"
        "<|end_header_id|>\n\n";
    int same = strcmp(got, want) == 0;
    if (!same) show_diff(want, got);
    free(got);
    CHECK(same);
    /* NULL opts are the defaults */
    CHECK(lc_chat_render(msgs + 1, 1, NULL, &got) == LC_OK);
    CHECK(strstr(got, "Today Date: 26 Jul 2024\n\n<|eot_id|>") != NULL);
    CHECK(strstr(got, "<|start_header_id|>assistant<|end_header_id|>\n\n") != NULL);
    free(got);
    lc_chat_msg bad_role[] = { { "robot", "x" } };
    CHECK(lc_chat_render(bad_role, 1, NULL, &got) == LC_ERR_FORMAT && got == NULL);
    lc_chat_msg no_role[] = { { NULL, "x" } };
    CHECK(lc_chat_render(no_role, 1, NULL, &got) == LC_ERR_ARG);
    lc_chat_msg bad_utf8[] = { { "user", "\xff\xfe" } };
    CHECK(lc_chat_render(bad_utf8, 1, NULL, &got) == LC_ERR_FORMAT);
    CHECK(lc_chat_render(msgs, 0, NULL, &got) == LC_ERR_FORMAT);
    CHECK(lc_chat_render(NULL, 1, NULL, &got) == LC_ERR_ARG);
    return T_PASS;
}

/* ---- Python-identical JSON ------------------------------------------ */
static const char pj_input[] = "{\"a\": [1, 2.5, {\"b\": [], \"c\": {}}, [[]], null, true, false], \"\\u00e9\": \"\\u65e5\\u672c\\u2028\\u007f\\u0001\\\"\\\\\\n\\r\\t\\b\\f/\", \"n\": {\"m\": {\"k\": [1e-07, -3, 12345678901234]}}}";
static const struct { int indent; const char *want; } pj_cases[] = {
    { -1, "{\"a\": [1, 2.5, {\"b\": [], \"c\": {}}, [[]], null, true, false], \"\303\251\": \"\346\227\245\346\234\254\342\200\250\177\\u0001\\\"\\\\\\n\\r\\t\\b\\f/\", \"n\": {\"m\": {\"k\": [1e-07, -3, 12345678901234]}}}" },
    { 4, "{\n    \"a\": [\n        1,\n        2.5,\n        {\n            \"b\": [],\n            \"c\": {}\n        },\n        [\n            []\n        ],\n        null,\n        true,\n        false\n    ],\n    \"\303\251\": \"\346\227\245\346\234\254\342\200\250\177\\u0001\\\"\\\\\\n\\r\\t\\b\\f/\",\n    \"n\": {\n        \"m\": {\n            \"k\": [\n                1e-07,\n                -3,\n                12345678901234\n            ]\n        }\n    }\n}" },
    { 2, "{\n  \"a\": [\n    1,\n    2.5,\n    {\n      \"b\": [],\n      \"c\": {}\n    },\n    [\n      []\n    ],\n    null,\n    true,\n    false\n  ],\n  \"\303\251\": \"\346\227\245\346\234\254\342\200\250\177\\u0001\\\"\\\\\\n\\r\\t\\b\\f/\",\n  \"n\": {\n    \"m\": {\n      \"k\": [\n        1e-07,\n        -3,\n        12345678901234\n      ]\n    }\n  }\n}" },
    { 0, "{\n\"a\": [\n1,\n2.5,\n{\n\"b\": [],\n\"c\": {}\n},\n[\n[]\n],\nnull,\ntrue,\nfalse\n],\n\"\303\251\": \"\346\227\245\346\234\254\342\200\250\177\\u0001\\\"\\\\\\n\\r\\t\\b\\f/\",\n\"n\": {\n\"m\": {\n\"k\": [\n1e-07,\n-3,\n12345678901234\n]\n}\n}\n}" },
};

static int test_chat_pyjson_dump(void) {
    json_t *x = json_loads(pj_input, 0, NULL);
    CHECK(x != NULL);
    for (size_t i = 0; i < LC_ARRAY_LEN(pj_cases); i++) {
        lc_buf b = {0};
        CHECK(lc_pyjson_dump(&b, x, pj_cases[i].indent) == LC_OK);
        int same = strcmp(b.p, pj_cases[i].want) == 0;
        if (!same) show_diff(pj_cases[i].want, b.p);
        lc_buf_free(&b);
        CHECKF(same, "indent %d", pj_cases[i].indent);
    }
    json_decref(x);
    static const struct { const char *in; int indent; const char *want; } small[] = {
        { "[]", 4, "[]" },
        { "{}", 4, "{}" },
        { "[[], {}]", 4, "[\n    [],\n    {}\n]" },
        { "{\"x\": [], \"y\": {}}", -1, "{\"x\": [], \"y\": {}}" },
        { "[\"\"]", -1, "[\"\"]" },
        { "[\"\\u001b\\u007f\\u0080\\u00a0\\ud83d\\ude00\"]", -1,
          "[\"\\u001b\177\302\200\302\240\360\237\230\200\"]" },
        { "[-0, 0, -1, 9223372036854775807, -9223372036854775808]", -1,
          "[0, 0, -1, 9223372036854775807, -9223372036854775808]" },
        { "[1E400]", -1, NULL },           /* jansson: real overflow, rejected */
        { "[0.0, -0.0, 1e0, 1E-7, 2.50]", -1, "[0.0, -0.0, 1.0, 1e-07, 2.5]" },
        { "{\"b\": 1, \"a\": 2}", 0, "{\n\"b\": 1,\n\"a\": 2\n}" },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(small); i++) {
        json_t *v = json_loads(small[i].in, 0, NULL);
        if (!small[i].want) {
            CHECK(v == NULL);
            continue;
        }
        CHECKF(v != NULL, "%s", small[i].in);
        lc_buf b = {0};
        CHECK(lc_pyjson_dump(&b, v, small[i].indent) == LC_OK);
        int same = strcmp(b.p, small[i].want) == 0;
        if (!same) show_diff(small[i].want, b.p);
        lc_buf_free(&b);
        json_decref(v);
        CHECKF(same, "case %zu", i);
    }
    return T_PASS;
}

static int test_chat_pyjson_float(void) {
    static const struct { double v; const char *want; } named[] = {
        { 0.5, "0.5" }, { 1e-7, "1e-07" }, { 1.0, "1.0" }, { 1e16, "1e+16" },
        { 1e15, "1000000000000000.0" }, { 1e-5, "1e-05" }, { 1e-4, "0.0001" },
        { 123456789012345680.0, "1.2345678901234568e+17" }, { 0.1, "0.1" }, { -0.0, "-0.0" },
        { 0.0, "0.0" }, { 1e22, "1e+22" }, { 5e-324, "5e-324" },
        { 1.7976931348623157e308, "1.7976931348623157e+308" }, { 1.0 / 3, "0.3333333333333333" },
        { 9007199254740993.0, "9007199254740992.0" }, { 2.0, "2.0" }, { 1234.5, "1234.5" },
        { 0.001, "0.001" }, { -2.5e-8, "-2.5e-08" }, { 9999999999999998.0, "9999999999999998.0" },
        { 1e100, "1e+100" }, { 0.30000000000000004, "0.30000000000000004" },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(named); i++) {
        lc_buf b = {0};
        lc_pyjson_float(&b, named[i].v);
        int same = b.p && strcmp(b.p, named[i].want) == 0;
        CHECKF(same, "want %s got %s", named[i].want, b.p ? b.p : "(null)");
        lc_buf_free(&b);
    }
    /* random doubles, repr() from CPython 3 */
    static const struct { uint64_t bits; const char *want; } rnd[] = {
    { 0xf2a74de452e6b438ull, "-1.989032661366619e+244" },
    { 0x6513270e269e0d37ull, "7.761117632285041e+178" },
    { 0x0c5c7fd0a6a3a450ull, "3.980498358697587e-249" },
    { 0xd23f0824128b2f33ull, "-1.5432835417340557e+88" },
    { 0x1818e811892f902bull, "1.3647584518757569e-192" },
    { 0x36f675cc81e74ef5ull, "6.294675241195386e-44" },
    { 0x3d9c172411e20b8full, "6.387016158513563e-12" },
    { 0xa170b33839263059ull, "-1.306052388527796e-147" },
    { 0x47488af165190fc3ull, "2.548664448111786e+35" },
    { 0xc29fe0f48ec6f4c5ull, "-8762759033277.192" },
    { 0xbdb6b85f48630803ull, "-2.066390506984397e-11" },
    { 0xc052575cc2f0a00aull, "-73.36503671167898" },
    { 0xbc6067e5098d736eull, "-7.11489833285125e-18" },
    { 0x420a6adb404ac668ull, "14182737929.346878" },
    { 0xc2671aee49d11a28ull, "-793888575112.8174" },
    { 0x3f9c731104cf3b49ull, "0.02778269378523682" },
    { 0x414228cfee863861ull, "2380191.8634710764" },
    { 0x40eb12b828edb5baull, "55445.7549961614" },
    { 0x407699999999999aull, "361.6" },
    { 0x4088d3092ccf6be3ull, "794.37948" },
    { 0x4088600000000000ull, "780.0" },
    { 0x4062ff851eb851ecull, "151.985" },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(rnd); i++) {
        double v;
        memcpy(&v, &rnd[i].bits, sizeof v);
        lc_buf b = {0};
        lc_pyjson_float(&b, v);
        int same = b.p && strcmp(b.p, rnd[i].want) == 0;
        CHECKF(same, "want %s got %s", rnd[i].want, b.p ? b.p : "(null)");
        lc_buf_free(&b);
    }
    /* Python str() of scalars as Jinja prints them */
    lc_buf b = {0};
    json_t *arr = json_loads("[3, 0.5, true, false, null, \"s\"]", 0, NULL);
    CHECK(arr != NULL);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        CHECK(lc_pyjson_str(&b, json_array_get(arr, i)));
        lc_buf_putc(&b, '|');
    }
    CHECK(!lc_pyjson_str(&b, arr));
    int same = strcmp(b.p, "3|0.5|True|False|None|s|") == 0;
    lc_buf_free(&b);
    json_decref(arr);
    CHECK(same);
    lc_buf_printf(&b, "%s-%d-%s", "x", 7, "a long tail that does not fit the 256-byte fast path "
                  "....................................................................."
                  "....................................................................."
                  "....................................................................");
    CHECK(b.len > 256 && strncmp(b.p, "x-7-a long", 10) == 0 && strlen(b.p) == b.len);
    lc_buf_free(&b);
    return T_PASS;
}

/* ---- malformed requests --------------------------------------------- */
static int expect_err(const char *json, int want_rc) {
    char *out = (char *)1;
    int rc = lc_chat_render_json(json, strlen(json), NULL, &out);
    if (rc != want_rc || out != NULL) {
        fprintf(stderr, "  request %s: rc %d (want %d): %s\n", json, rc, want_rc, lc_last_error());
        return 1;
    }
    return 0;
}

static int test_chat_errors(void) {
    static const char *const bad[] = {
        "",
        "{",
        "[1, 2]",
        "\"messages\"",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]} trailing",
        "{}",
        "{\"messages\": null}",
        "{\"messages\": {\"role\": \"user\"}}",
        "{\"messages\": []}",
        "{\"messages\": [\"hi\"]}",
        "{\"messages\": [{\"content\": \"hi\"}]}",
        "{\"messages\": [{\"role\": 1, \"content\": \"hi\"}]}",
        "{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": {\"a\": 1}}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [\"text\"]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": {}}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": \"t\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"builtin_tools\": \"brave_search\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"builtin_tools\": [1]}",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}], \"tools\": []}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"a\", "
        "\"arguments\": {}}}, {\"function\": {\"name\": \"b\", \"arguments\": {}}}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": []}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": \"x\"}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": 3, "
        "\"arguments\": {}}}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
        "\"arguments\": \"{not json\"}}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
        "\"arguments\": \"\"}}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\"}}]}]}",
        "{\"builtin_tools\": [\"brave_search\"], \"messages\": [{\"role\": \"assistant\", "
        "\"tool_calls\": [{\"function\": {\"name\": \"brave_search\", \"arguments\": {\"q\": true}}}]}]}",
        "{\"builtin_tools\": [\"brave_search\"], \"messages\": [{\"role\": \"assistant\", "
        "\"tool_calls\": [{\"function\": {\"name\": \"brave_search\", \"arguments\": \"[1]\"}}]}]}",
        "{\"messages\": [{\"role\": \"tool\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\\u0000\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\xc3\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": 1e999}]}",
    };
    int fails = 0;
    for (size_t i = 0; i < LC_ARRAY_LEN(bad); i++) fails += expect_err(bad[i], LC_ERR_FORMAT);
    CHECKF(fails == 0, "%d bad requests were accepted or gave the wrong code", fails);
    char *out;
    CHECK(lc_chat_render_json(NULL, 3, NULL, &out) == LC_ERR_ARG);
    CHECK(lc_chat_render_json("{}", 2, NULL, NULL) == LC_ERR_ARG);
    /* the message names what broke */
    CHECK(expect_err("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"wizard\"}]}",
                     LC_ERR_FORMAT) == 0);
    CHECKF(strstr(lc_last_error(), "message 1") && strstr(lc_last_error(), "wizard"), "%s",
           lc_last_error());
    /* len is honoured: no NUL needed, nothing read past it */
    static const char buf[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}GARBAGE";
    CHECK(lc_chat_render_json(buf, sizeof buf - 1 - 7, NULL, &out) == LC_OK);
    free(out);
    return T_PASS;
}

/* every truncation of every golden request is an error (never a crash), and byte
 * mutations never crash either */
static int test_chat_truncated(void) {
    char **names;
    int n = golden_names(&names);
    CHECK(n > 0);
    int bad = 0;
    unsigned seed = 12345;
    for (int i = 0; i < n; i++) {
        char path[512];
        size_t len;
        snprintf(path, sizeof path, "chat/%s.json", names[i]);
        char *json = slurp(t_data(path), &len);
        if (!json) {
            bad++;
            continue;
        }
        size_t end = len;
        while (end > 0 && json[end - 1] != '}') end--;   /* the closing brace */
        for (size_t cut = 0; cut < end; cut++) {
            char *copy = malloc(cut ? cut : 1);          /* exact size: ASan sees overreads */
            memcpy(copy, json, cut);
            char *out = NULL;
            int rc = lc_chat_render_json(copy, cut, NULL, &out);
            if (rc != LC_ERR_FORMAT || out) {
                fprintf(stderr, "  %s cut at %zu: rc %d\n", names[i], cut, rc);
                bad++;
            }
            free(out);
            free(copy);
        }
        for (int k = 0; k < 200; k++) {
            char *copy = malloc(len);
            memcpy(copy, json, len);
            for (int m = 0; m < 3; m++) {
                seed = seed * 1103515245u + 12345u;
                copy[(seed >> 8) % len] = (char)(seed >> 20);
            }
            char *out = NULL;
            int rc = lc_chat_render_json(copy, len, NULL, &out);
            if ((rc == LC_OK) != (out != NULL)) bad++;
            free(out);
            free(copy);
        }
        free(json);
    }
    free_names(names, n);
    CHECKF(bad == 0, "%d truncated/mutated requests misbehaved", bad);
    return T_PASS;
}

/* ---- tokenization ------------------------------------------------------ */
static lc_tok *load_tok(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.json");
    if (!p) return NULL;
    lc_tok *t = NULL;
    if (lc_tok_load(p, &t) != LC_OK) {
        fprintf(stderr, "  lc_tok_load: %s\n", lc_last_error());
        return NULL;
    }
    return t;
}

static int encode_plain(const lc_tok *t, const char *s, int flags, int32_t *ids, int cap) {
    return lc_tok_encode(t, s, strlen(s), flags, ids, cap);
}

/* spec tokenizer.md "Full dialog", with the HF template's date lines in the system turn */
static int test_chat_tokenize_dialog(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    lc_tok *t = load_tok();
    CHECK(t != NULL);
    lc_chat_msg msgs[] = { { "system", "This is a test sentence." }, { "user", "This is a response." } };
    int32_t *ids = NULL;
    int n = 0;
    CHECKF(lc_chat_tokenize(t, msgs, 2, NULL, &ids, &n) == LC_OK, "%s", lc_last_error());
    int32_t want[256];
    int k = 0;
    const int32_t head[] = { 128000, 128006, 9125, 128007, 271 };
    for (size_t i = 0; i < LC_ARRAY_LEN(head); i++) want[k++] = head[i];
    int m = encode_plain(t, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                         "This is a test sentence.", 0, want + k, 200);
    CHECK(m > 6 && m < 200);
    k += m;
    /* the spec's ids from the system content's end to the generation prompt */
    const int32_t tail[] = { 2028, 374, 264, 1296, 11914, 13, 128009, 128006, 882, 128007, 271,
                             2028, 374, 264, 2077, 13, 128009, 128006, 78191, 128007, 271 };
    int same = n == k + (int)LC_ARRAY_LEN(tail) - 6;
    for (int i = 0; same && i < k; i++) same = ids[i] == want[i];
    for (size_t i = 0; same && i < LC_ARRAY_LEN(tail); i++)
        same = ids[n - (int)LC_ARRAY_LEN(tail) + (int)i] == tail[i];
    if (!same) {
        fprintf(stderr, "  got %d ids:", n);
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
    }
    free(ids);
    lc_tok_free(t);
    CHECK(same);
    return T_PASS;
}

/* special-token text in user content stays text; in the template it is an id */
static int test_chat_tokenize_untrusted(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    lc_tok *t = load_tok();
    CHECK(t != NULL);
    lc_chat_msg msgs[] = { { "user", "<|eot_id|>" } };
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.add_generation_prompt = 0;
    int32_t *ids = NULL;
    int n = 0;
    CHECKF(lc_chat_tokenize(t, msgs, 1, &o, &ids, &n) == LC_OK, "%s", lc_last_error());
    /* ... <|start_header_id|> user <|end_header_id|> \n\n  < | eot _id | >  <|eot_id|> */
    const int32_t tail[] = { 128006, 882, 128007, 271, 27, 91, 68, 354, 851, 91, 29, 128009 };
    int nt = (int)LC_ARRAY_LEN(tail), same = n > nt && ids[0] == 128000;
    for (int i = 0; same && i < nt; i++) same = ids[n - nt + i] == tail[i];
    int n_eot = 0;
    for (int i = 0; i < n; i++) n_eot += ids[i] == 128009;
    free(ids);
    CHECK(same);
    CHECK(n_eot == 2);   /* system turn + user turn, none from the content */
    lc_tok_free(t);
    return T_PASS;
}

/* for every golden prompt whose content holds no special-token text, masked
 * tokenization equals tokenizing the rendered text with specials parsed (what HF
 * does); for the one that does, ours has fewer special ids */
static int test_chat_tokenize_golden(void) {
    if (!t_shared("data/tokenizer/tokenizer.json")) return T_SKIP;
    lc_tok *t = load_tok();
    CHECK(t != NULL);
    char **names;
    int n = golden_names(&names), bad = 0, checked = 0;
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        char path[512];
        size_t jl;
        snprintf(path, sizeof path, "chat/%s.json", names[i]);
        char *json = slurp(t_data(path), &jl);
        if (!json) {
            bad++;
            continue;
        }
        lc_chat_opts o;
        golden_opts(json, jl, &o);
        char *text = NULL;
        int32_t *ids = NULL;
        int n_ids = 0;
        int rc1 = lc_chat_render_json(json, jl, &o, &text);
        int rc2 = lc_chat_tokenize_json(t, json, jl, &o, &ids, &n_ids);
        if (rc1 != rc2) {
            fprintf(stderr, "  %s: render %d, tokenize %d\n", names[i], rc1, rc2);
            bad++;
        } else if (rc1 == LC_OK) {
            int cap = (int)strlen(text) + 16;
            int32_t *ref = malloc((size_t)cap * sizeof *ref);
            int nr = ref ? lc_tok_encode(t, text, strlen(text), LC_TOK_SPECIAL, ref, cap) : -1;
            bool has_special_text = strstr(names[i], "special_tokens") != NULL;
            int same = nr == n_ids;
            for (int k = 0; same && k < nr; k++) same = ref[k] == ids[k];
            if (has_special_text ? same : !same) {
                fprintf(stderr, "  %s: masked ids %s special-parsed ids (%d vs %d)\n", names[i],
                        same ? "equal" : "differ from", n_ids, nr);
                bad++;
            }
            /* ids decode back to the rendered text */
            lc_buf dec = {0};
            for (int k = 0; k < n_ids; k++) {
                char piece[256];
                int pl = lc_tok_piece(t, ids[k], piece, sizeof piece);
                if (pl > 0 && pl < (int)sizeof piece) lc_buf_put(&dec, piece, (size_t)pl);
            }
            if (!dec.p || strcmp(dec.p, text) != 0) {
                fprintf(stderr, "  %s: ids do not decode to the rendered text\n", names[i]);
                bad++;
            }
            lc_buf_free(&dec);
            free(ref);
            checked++;
        }
        free(text);
        free(ids);
        free(json);
    }
    free_names(names, n);
    lc_tok_free(t);
    CHECKF(bad == 0, "%d of %d golden prompts tokenized wrongly", bad, checked);
    return T_PASS;
}

const lc_test_case tests_chat[] = {
    { "chat_golden", test_chat_golden },
    { "chat_spec_strings", test_chat_spec_strings },
    { "chat_struct_form", test_chat_struct_form },
    { "chat_pyjson_dump", test_chat_pyjson_dump },
    { "chat_pyjson_float", test_chat_pyjson_float },
    { "chat_errors", test_chat_errors },
    { "chat_truncated", test_chat_truncated },
    { "chat_tokenize_dialog", test_chat_tokenize_dialog },
    { "chat_tokenize_untrusted", test_chat_tokenize_untrusted },
    { "chat_tokenize_golden", test_chat_tokenize_golden },
    { 0 },
};
