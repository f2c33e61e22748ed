/* toolcall.h - reading a tool call out of a Llama 3.1 model reply (toolcall.c), in Meta's
 * order (spec chat-format.md "Parsing replies"), and the tool-call accuracy evaluation
 * of a chat model on held-out prompts (gen_toolchat --eval-prompts). */
#ifndef LC_TOOLCALL_H
#define LC_TOOLCALL_H

#include "llamac.h"
#include <stdio.h>

/* Parses a model reply (the text after the assistant header; a leading <|python_tag|>
 * and a trailing <|eot_id|>/<|eom_id|> may be present). Tried in order:
 *  1. <function=NAME>{json}</function> anywhere in the text;
 *  2. the whole text is a JSON object with "name" (or "type": "function"): arguments from
 *     "parameters", else "arguments" (an object, or a string holding one), else {};
 *  3. a Python list of calls [f(a=1, b="x"), ...] with keyword literal arguments: the first;
 *  4. built-in NAME.call(query="...") anywhere: {"query": ...};
 *     else, after <|python_tag|>, a code_interpreter call {"code": text}.
 * A custom-format call naming brave_search / wolfram_alpha / photogen becomes
 * {"query": first argument value}, as Meta does.
 * Returns 1 with *name and *args_json (compact JSON object) malloc'd, 0 when the reply is
 * no (well-formed) tool call, < 0 on bad arguments or no memory. Never reads past len;
 * invalid UTF-8 or a NUL byte gives 0. */
int lc_toolcall_parse(const char *text, size_t len, char **name, char **args_json);

typedef struct lc_toolcall_stats {
    int n_prompts;          /* prompts evaluated */
    int n_call_expected;    /* prompts whose answer should be a tool call */
    int n_wellformed;       /* ... answered with a parseable tool call */
    int n_right_tool;       /* ... with a well-formed call of the expected tool */
    int n_exact_args;       /* ... and arguments equal to the expected JSON */
    int n_nocall_expected;  /* prompts that need no tool */
    int n_nocall_ok;        /* ... answered without a tool call */
    int n_errors;           /* prompts that could not be run (too long, bad line) */
    int64_t n_gen_tokens;
    double seconds;
} lc_toolcall_stats;

/* Runs up to n (<= 0: all) prompts of a JSONL file, one object per line:
 *   {"messages": [...], "tools": [...], "expected": {"name": N, "arguments": {...}} | null}
 * rendering each with the chat template (lc_chat_tokenize_json, tools in the first user
 * message), greedy-decoding up to 64 tokens until an end-of-generation token, and
 * parsing the reply with lc_toolcall_parse. log (NULL: quiet) gets one line per miss. */
int lc_toolcall_eval(lc_model *m, const char *prompts_jsonl, int n, FILE *log, lc_toolcall_stats *out);

#endif
