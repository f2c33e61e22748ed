/* test_default_models.c - the bundled default models (models/, made by
 * scripts/default_models.sh): both load and fit the 20 MB budget, the chat model answers
 * held-out tool prompts with a well-formed call of the right tool (greedy decoding), and
 * the base model continues "ROMEO:" with printable text (skipped when the models are absent);
 * and the training commands of the program on tiny inputs: train-tokenizer, train,
 * finetune (full and LoRA), merge-lora, eval-tools, their usage texts and errors. */
#include "internal.h"
#include "toolcall.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>

#define BASE_PATH "models/default-base.gguf"
#define CHAT_PATH "models/default-chat.gguf"
#define MAX_BYTES (20 * 1000 * 1000)

static int have_models(void) {
    struct stat sb, sc;
    return stat(BASE_PATH, &sb) == 0 && stat(CHAT_PATH, &sc) == 0;
}

static long long file_size(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 ? (long long)s.st_size : -1;
}

static int test_load(void) {
    if (!have_models()) return T_SKIP;
    const char *paths[2] = { BASE_PATH, CHAT_PATH };
    int n_vocab[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        long long sz = file_size(paths[k]);
        CHECKF(sz > 0 && sz <= MAX_BYTES, "%s is %lld bytes", paths[k], sz);
        lc_model *m = NULL;
        CHECKF(lc_model_load(paths[k], NULL, &m) == LC_OK, "%s: %s", paths[k], lc_last_error());
        const lc_model_info *mi = lc_model_get_info(m);
        const lc_tok *t = lc_model_tok(m);
        n_vocab[k] = mi->n_vocab;
        CHECK(t && lc_tok_n_vocab(t) == mi->n_vocab);
        CHECK(lc_tok_lookup(t, "<|eot_id|>") >= 0 && lc_tok_lookup(t, "<|python_tag|>") >= 0);
        CHECK(mi->n_layers >= 1 && mi->n_kv_heads <= mi->n_heads);
        /* the weights are mapped (11 MB: large enough for 2 MiB pages); the share of huge
         * pages depends on the kernel and the page cache: a fraction, or -1 where the kernel
         * does not report it */
        double hp = lc_model_huge_page_fraction(m);
        CHECKF(hp == -1 || (hp >= 0 && hp <= 1), "huge-page fraction %g", hp);
        lc_model_free(m);
    }
    CHECK(n_vocab[0] == n_vocab[1]);
    return T_PASS;
}

/* the tools and phrasings of gen_toolchat's held-out split (--eval-prompts) */
#define TOOL_CALC                                                                                          \
    "{\"type\":\"function\",\"function\":{\"name\":\"calculator\",\"description\":\"Evaluate an arithmetic " \
    "expression\",\"parameters\":{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":\"string\","   \
    "\"description\":\"The expression, e.g. 2 * (3 + 4)\"}},\"required\":[\"expression\"]}}}"
#define TOOL_CONV                                                                                          \
    "{\"type\":\"function\",\"function\":{\"name\":\"convert_units\",\"description\":\"Convert a value from " \
    "one unit to another\",\"parameters\":{\"type\":\"object\",\"properties\":{\"value\":{\"type\":"         \
    "\"number\",\"description\":\"The value to convert\"},\"from_unit\":{\"type\":\"string\",\"description\":" \
    "\"Unit of the value, e.g. km\"},\"to_unit\":{\"type\":\"string\",\"description\":\"Unit to convert to, "  \
    "e.g. mi\"}},\"required\":[\"value\",\"from_unit\",\"to_unit\"]}}}"
#define TOOL_WEATHER                                                                                       \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Get the current weather " \
    "for a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","         \
    "\"description\":\"City name\"}},\"required\":[\"city\"]}}}"
#define TOOLS "[" TOOL_CALC "," TOOL_CONV "," TOOL_WEATHER "]"
#define SYS "{\"role\":\"system\",\"content\":\"You are an assistant that answers briefly.\"},"

static const char *const PROMPTS[] = {
    "{\"messages\":[" SYS "{\"role\":\"user\",\"content\":\"Sorry to bother you, give me the result of 714 + 11.\"}],"
    "\"tools\":" TOOLS ",\"expected\":{\"name\":\"calculator\",\"arguments\":{\"expression\":\"714 + 11\"}}}",
    "{\"messages\":[" SYS "{\"role\":\"user\",\"content\":\"I need 775 miles converted to kilometres. Cheers!\"}],"
    "\"tools\":" TOOLS ",\"expected\":{\"name\":\"convert_units\",\"arguments\":{\"value\":775,\"from_unit\":\"mi\","
    "\"to_unit\":\"km\"}}}",
    "{\"messages\":[" SYS "{\"role\":\"user\",\"content\":\"Hmm, any idea what the weather is doing in Reykjavik? "
    "Much appreciated.\"}],\"tools\":" TOOLS ",\"expected\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Reykjavik\"}}}",
};

static int test_chat_tool_calls(void) {
    if (!have_models()) return T_SKIP;
    char path[4096];
    snprintf(path, sizeof path, "%s/default-prompts.jsonl", t_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    for (size_t i = 0; i < LC_ARRAY_LEN(PROMPTS); i++) fprintf(f, "%s\n", PROMPTS[i]);
    CHECK(fclose(f) == 0);
    lc_model *m = NULL;
    CHECKF(lc_model_load(CHAT_PATH, NULL, &m) == LC_OK, "%s", lc_last_error());
    lc_toolcall_stats st;
    int rc = lc_toolcall_eval(m, path, 0, NULL, &st);
    lc_model_free(m);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    int n = (int)LC_ARRAY_LEN(PROMPTS);
    CHECKF(st.n_prompts == n && st.n_errors == 0, "%d prompts, %d errors", st.n_prompts, st.n_errors);
    CHECKF(st.n_wellformed == n && st.n_right_tool == n, "well-formed %d, right tool %d of %d", st.n_wellformed,
           st.n_right_tool, n);
    return T_PASS;
}

/* greedy continuation of "ROMEO:" by the base model: printable text with letters */
static int test_base_text(void) {
    if (!have_models()) return T_SKIP;
    lc_model *m = NULL;
    CHECKF(lc_model_load(BASE_PATH, NULL, &m) == LC_OK, "%s", lc_last_error());
    const lc_tok *t = lc_model_tok(m);
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = 128;
    lc_ctx *c = NULL;
    int rc = lc_ctx_new(m, &cp, &c);
    if (rc) lc_model_free(m);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    int32_t ids[128], pos[128], seq[128] = { 0 };
    int n = lc_tok_encode(t, "ROMEO:", 6, LC_TOK_BOS, ids, 16);
    int ok = n > 1 && n <= 16;
    for (int i = 0; i < n && ok; i++) pos[i] = i;
    char text[1024];
    size_t len = 0;
    int n_vocab = lc_model_get_info(m)->n_vocab, letters = 0, bad = 0;
    lc_detok dt = { 0 };
    lc_batch b = { .n_tokens = n, .token = ids, .pos = pos, .seq_id = seq };
    for (int step = 0; ok && step < 48; step++) {
        if (lc_ctx_decode(c, &b) != LC_OK) {
            ok = 0;
            break;
        }
        const float *lg = lc_ctx_logits(c, b.n_tokens - 1);
        int32_t best = 0;
        for (int v = 1; v < n_vocab; v++)
            if (lg[v] > lg[best]) best = v;
        if (lc_tok_is_eog(t, best)) break;
        int k = lc_detok_push(&dt, t, best, text + len, sizeof text - 1 - len);
        if (k < 0) {
            ok = 0;
            break;
        }
        len += (size_t)k;
        ids[n] = best;
        pos[n] = n;
        b = (lc_batch){ .n_tokens = 1, .token = ids + n, .pos = pos + n, .seq_id = seq };
        n++;
    }
    text[len] = 0;
    lc_ctx_free(c);
    lc_model_free(m);
    CHECKF(ok, "%s", lc_last_error());
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) letters++;
        else if (!(ch == '\n' || (ch >= 0x20 && ch < 0x7f))) bad++;
    }
    CHECKF(len >= 20 && bad == 0 && letters * 2 >= (int)len, "continuation: \"%s\"", text);
    return T_PASS;
}


/* ---- the training commands (tools/cmd_train.c) on tiny inputs ---------------------------- */
#define run t_run

static int put(const char *path, const char *text) { return t_write_file(path, text, strlen(text)); }

/* 1 when out is exactly one "error: ..." line */
static int one_error(const char *out) {
    return !strncmp(out, "error: ", 7) && strchr(out, '\n') == out + strlen(out) - 1;
}

static int test_cli_usage(void) {
    static const char *const cmds[] = { "train-tokenizer", "train", "finetune", "merge-lora", "eval-tools" };
    static const char *const flags[][8] = {
        { "--vocab", "-o", "-q", "-f" },
        { "--tokenizer", "--kv-heads", "--no-rope-scaling", "--accum", "--resume", "--stop-at", "--f16", "OPENBLAS_CORETYPE" },
        { "--lora-rank", "--lora-alpha", "--lora-dropout", "--lora-targets", "--checkpoint", "--val-frac", "--wd", "Ctrl-C" },
        { "--lora", "--lora-scale", "--type", "-o" },
        { "-n", "-v", "--json", "-f" },
    };
    for (int c = 0; c < 5; c++) {
        char *out;
        CHECK(run(&out, "%s --help", cmds[c]) == 0);
        for (int k = 0; k < 8 && flags[c][k]; k++) CHECKF(strstr(out, flags[c][k]), "%s --help lacks %s", cmds[c], flags[c][k]);
        free(out);
        CHECK(run(&out, "%s --bogus", cmds[c]) == 1);
        CHECKF(one_error(out) && strstr(out, "--bogus"), "%s", out);
        free(out);
    }
    return T_PASS;
}

static int test_cli_errors(void) {
    const char *d = t_tmpdir();
    char p[4096], q[4096], *out;
    snprintf(p, sizeof p, "%s/cli-empty.txt", d);
    CHECK(put(p, "") == 0);
    CHECK(run(&out, "train-tokenizer -f '%s' --vocab 300 -o '%s/x.json'", p, d) == 1);
    CHECKF(one_error(out) && strstr(out, "empty"), "%s", out);
    free(out);
    snprintf(q, sizeof q, "%s/cli-latin1.txt", d);
    CHECK(put(q, "caf\xe9 au lait\n") == 0);
    CHECK(run(&out, "train-tokenizer -f '%s' --vocab 300 -o '%s/x.json'", q, d) == 1);
    CHECKF(one_error(out) && strstr(out, "UTF-8"), "%s", out);
    free(out);
    CHECK(run(&out, "train-tokenizer -f '%s' -o '%s/x.json'", q, d) == 1);   /* no --vocab */
    CHECKF(one_error(out) && strstr(out, "--vocab"), "%s", out);
    free(out);
    CHECK(run(&out, "train -f '%s' -o '%s/x.gguf'", p, d) == 1);             /* no tokenizer or model */
    CHECKF(one_error(out) && strstr(out, "--tokenizer"), "%s", out);
    free(out);
    CHECK(run(&out, "train -f '%s' --tokenizer t.json --dim 30 --heads 4 -o x.gguf", p) == 1);
    CHECKF(one_error(out) && strstr(out, "multiple"), "%s", out);
    free(out);
    CHECK(run(&out, "train -f '%s' --tokenizer t.json --heads 8 --kv-heads 3 -o x.gguf", p) == 1);
    CHECKF(one_error(out) && strstr(out, "--kv-heads"), "%s", out);
    free(out);
    CHECK(run(&out, "train -f '%s' --tokenizer t.json --steps 0 -o x.gguf", p) == 1);
    CHECKF(one_error(out) && strstr(out, "--steps"), "%s", out);
    free(out);
    CHECK(run(&out, "finetune -m m.gguf -f d.jsonl -o x.gguf --lora-alpha 8") == 1);
    CHECKF(one_error(out) && strstr(out, "--lora-rank"), "%s", out);
    free(out);
    CHECK(run(&out, "finetune -m m.gguf -f d.jsonl -o x.gguf --lora-rank 4 --lora-targets q,z") == 1);
    CHECKF(one_error(out) && strstr(out, "--lora-targets"), "%s", out);
    free(out);
    CHECK(run(&out, "finetune -f d.jsonl -o x.gguf") == 1);
    CHECKF(one_error(out) && strstr(out, "-m"), "%s", out);
    free(out);
    CHECK(run(&out, "merge-lora -m a.gguf --lora b.gguf -o c.gguf --type q4_0") == 1);
    CHECKF(one_error(out) && strstr(out, "--type"), "%s", out);
    free(out);
    CHECK(run(&out, "eval-tools -m a.gguf") == 1);
    CHECKF(one_error(out) && strstr(out, "-f"), "%s", out);
    free(out);
    return T_PASS;
}

/* tokenizer -> pretraining -> full and LoRA fine-tuning -> merge -> evaluation, all tiny */
static int test_cli_pipeline(void) {
    const char *d = t_tmpdir();
    char corpus[4096], chat[4096], prompts[4096], *out;
    snprintf(corpus, sizeof corpus, "%s/cli-corpus.txt", d);
    snprintf(chat, sizeof chat, "%s/cli-chat.jsonl", d);
    snprintf(prompts, sizeof prompts, "%s/cli-prompts.jsonl", d);
    FILE *f = fopen(corpus, "wb");
    CHECK(f);
    for (int i = 0; i < 60; i++)
        fprintf(f, "ROMEO:\nBut soft, what light through yonder window breaks %d?\nJULIET:\nAy me!\n\n", i);
    CHECK(fclose(f) == 0);
    f = fopen(chat, "wb");
    CHECK(f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"Add %d and 2.\"}, {\"role\": \"assistant\", "
                "\"content\": \"%d.\"}]}\n", i, i + 2);
    fputs("not a conversation\n", f);
    CHECK(fclose(f) == 0);
    CHECK(put(prompts, "{\"messages\": [{\"role\": \"user\", \"content\": \"Add 1 and 2.\"}], \"expected\": null}\n"
                       "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}], \"expected\": "
                       "{\"name\": \"calculator\", \"arguments\": {\"expression\": \"2+2\"}}}\n") == 0);
    CHECK(run(&out, "train-tokenizer -f '%s' --vocab 320 -o '%s/cli-tok.json' -q", corpus, d) == 0);
    CHECKF(!*out, "%s", out);
    free(out);
    const char *shape = "--dim 32 --layers 1 --heads 4 --kv-heads 2 --ffn 64 --ctx 32 --batch 2 -t 1 --seed 3";
    CHECK(run(&out, "train -f '%s' --tokenizer '%s/cli-tok.json' %s --steps 4 --val-every 2 --log-every 1 "
                    "-o '%s/cli-base.gguf' --name tiny", corpus, d, shape, d) == 0);
    CHECKF(strstr(out, "step 4/4") && strstr(out, "val ") && strstr(out, "tok/s") && strstr(out, "wrote"), "%s", out);
    free(out);
    /* stopped at step 2, then resumed: the same model as the run straight through */
    CHECK(run(&out, "train -f '%s' --tokenizer '%s/cli-tok.json' %s --steps 4 --checkpoint '%s/cli-ck.gguf' "
                    "--stop-at 2 -q -o '%s/cli-base2.gguf'", corpus, d, shape, d, d) == 0);
    free(out);
    CHECK(run(&out, "train -f '%s' --ctx 32 --batch 2 -t 1 --seed 3 --steps 4 --resume '%s/cli-ck.gguf' "
                    "-o '%s/cli-base2.gguf' -q --name tiny", corpus, d, d) == 0);
    CHECKF(!*out, "%s", out);
    free(out);
    CHECK(run(&out, "logits -m '%s/cli-base.gguf' --tokens '1 2 3' -o '%s/l1.bin'", d, d) == 0);
    free(out);
    CHECK(run(&out, "logits -m '%s/cli-base2.gguf' --tokens '1 2 3' -o '%s/l2.bin'", d, d) == 0);
    free(out);
    char l1[4096], l2[4096];
    snprintf(l1, sizeof l1, "%s/l1.bin", d);
    snprintf(l2, sizeof l2, "%s/l2.bin", d);
    size_t na = 0, nb = 0;
    char *a = t_slurp(l1, &na), *b = t_slurp(l2, &nb);
    CHECK(a && b);
    CHECK(na == nb && na > 0 && !memcmp(a, b, na));
    free(a);
    free(b);
    /* full fine-tuning, LoRA, merge, evaluation */
    CHECK(run(&out, "finetune -m '%s/cli-base.gguf' -f '%s' --ctx 256 --steps 2 --batch 2 -t 1 -o '%s/cli-chat.gguf' "
                    "--f16 --val-frac 0.2", d, chat, d) == 0);
    CHECKF(strstr(out, "skipped 1 of 13 lines") && strstr(out, "wrote"), "%s", out);
    free(out);
    CHECK(run(&out, "finetune -m '%s/cli-base.gguf' -f '%s' --ctx 256 --steps 2 --batch 2 -t 1 --lora-rank 2 "
                    "--lora-targets all --lora-dropout 0.1 -o '%s/cli-lora.gguf' -q", d, chat, d) == 0);
    free(out);
    CHECK(run(&out, "merge-lora -m '%s/cli-base.gguf' --lora '%s/cli-lora.gguf' --lora-scale 0.5 --type f16 "
                    "-o '%s/cli-merged.gguf'", d, d, d) == 0);
    free(out);
    CHECK(run(&out, "run -m '%s/cli-merged.gguf' -p ROMEO -n 3 --temp 0", d) == 0);
    free(out);
    CHECK(run(&out, "eval-tools -m '%s/cli-chat.gguf' -f '%s' --json", d, prompts) == 0);
    CHECKF(strstr(out, "right tool:") && strstr(out, "\"right_tool_pct\"") && strstr(out, "prompts:          2"),
           "%s", out);
    free(out);
    /* an adapter for another shape is refused */
    CHECK(run(&out, "merge-lora -m '%s/cli-chat.gguf' --lora '%s/cli-base.gguf' -o '%s/x.gguf'", d, d, d) == 1);
    CHECKF(one_error(out), "%s", out);
    free(out);
    return T_PASS;
}

const lc_test_case tests_default_models[] = {
    { "default_models_load", test_load },
    { "default_chat_tool_calls", test_chat_tool_calls },
    { "default_base_text", test_base_text },
    { "train_cli_usage", test_cli_usage },
    { "train_cli_errors", test_cli_errors },
    { "train_cli_pipeline", test_cli_pipeline },
    { NULL, NULL },
};
