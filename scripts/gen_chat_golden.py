#!/usr/bin/env python3
"""gen_chat_golden.py - renders the official Llama 3.1 chat template with jinja2 for each
request in tests/data/chat/*.json and writes the expected prompt to the matching .txt
(or "ERROR: <reason>" to .err when the template raises).

Environment as transformers builds it: ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[loopcontrols]); tojson = json.dumps(ensure_ascii=False,
indent=indent, sort_keys=False); raise_exception; strftime_now.

A request file: {"messages": [...], "tools"?, "builtin_tools"?, "date"?,
"add_generation_prompt"? (default true), "tools_in_user_message"? (default: template's)}.
Before rendering, the request gets the same normalisation llamac documents (what
OpenAI-style servers do): list-of-text-parts content joined with "\n", null content ""
(not for tool messages), JSON-string tool-call arguments parsed, "tool_calls": null dropped.

usage: scripts/gen_chat_golden.py [--template PATH] [--dir tests/data/chat]
"""
import argparse
import glob
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def normalise(messages):
    out = []
    for m in messages:
        m = dict(m)
        is_tool = m.get("role") in ("tool", "ipython")
        if "tool_calls" in m and m["tool_calls"] is None:
            del m["tool_calls"]
        c = m.get("content")
        if not is_tool:
            if isinstance(c, list):
                m["content"] = "\n".join(p["text"] for p in c)
            elif "content" in m and c is None:
                m["content"] = ""
        if isinstance(m.get("tool_calls"), list):
            calls = []
            for tc in m["tool_calls"]:
                tc = dict(tc)
                fn = tc.get("function")
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    fn = dict(fn)
                    fn["arguments"] = json.loads(fn["arguments"])
                    tc["function"] = fn
                calls.append(tc)
            m["tool_calls"] = calls
        out.append(m)
    return out


def render(template, req):
    kw = {
        "messages": normalise(req["messages"]),
        "bos_token": "<|begin_of_text|>",
        "add_generation_prompt": req.get("add_generation_prompt", True),
    }
    if req.get("tools") is not None:
        kw["tools"] = req["tools"]
    if req.get("builtin_tools") is not None:
        kw["builtin_tools"] = req["builtin_tools"]
    if "date" in req:
        kw["date_string"] = req["date"]
    if "tools_in_user_message" in req:
        kw["tools_in_user_message"] = req["tools_in_user_message"]
    return template.render(**kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", default=os.path.join(
        ROOT, "..", "shared", "data", "tokenizer", "chat_template.jinja"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "tests", "data", "chat"))
    a = ap.parse_args()
    with open(a.template, encoding="utf-8") as f:
        template = make_env().from_string(f.read())
    n = 0
    for path in sorted(glob.glob(os.path.join(a.dir, "*.json"))):
        base = path[:-5]
        with open(path, encoding="utf-8") as f:
            req = json.load(f)
        for stale in (base + ".txt", base + ".err"):
            if os.path.exists(stale):
                os.remove(stale)
        try:
            text = render(template, req)
            with open(base + ".txt", "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except Exception as e:  # the template raised: llamac must fail too
            with open(base + ".err", "w", encoding="utf-8") as f:
                f.write("ERROR: %s: %s\n" % (type(e).__name__, e))
        n += 1
    print("rendered %d requests with jinja2 %s" % (n, jinja2.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
