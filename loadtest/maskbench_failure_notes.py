#!/usr/bin/env python3
"""loadtest/maskbench_failure_notes.py — build/maskbench's --json and
--failures outputs as a Markdown failure analysis for the converter and
grammar-core owners: the table, every invalidation error (an invalid
instance the masks let through: a correctness bug) with its schema id and
instance, crashes and timeouts, compile errors grouped by message, and the
validation errors (valid instances refused) with the refused token.

  python3 loadtest/maskbench_failure_notes.py RESULT.json FAILURES.jsonl \
      --table TABLE.txt --command "build/maskbench ..." > NOTES.md
"""
import argparse
import collections
import json


def code(s, limit=400):
    s = s if len(s) <= limit else s[:limit] + "..."
    return "`" + s.replace("`", "'").replace("\n", "\\n") + "`"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("result")
    ap.add_argument("failures")
    ap.add_argument("--table", help="maskbench's stdout (the table)")
    ap.add_argument("--command", default="")
    ap.add_argument("--title", default="MaskBench failures")
    ap.add_argument("--max-validation", type=int, default=150)
    args = ap.parse_args()
    r = json.load(open(args.result))
    fails = [json.loads(l) for l in open(args.failures, encoding="utf-8", errors="replace")]
    by_outcome = collections.defaultdict(list)
    for f in fails:
        by_outcome[f["outcome"]].append(f)

    out = [f"# {args.title}", ""]
    if args.command:
        out += ["Command:", "", "```sh", args.command, "```", ""]
    out += [
        f"{r['schemas']} schemas: {r['passing']} passing, {r['compile_errors']} compile errors, "
        f"{r['validation_errors']} validation errors, {r['invalidation_errors']} invalidation "
        f"errors, {r['timeouts']} timeouts, {r['crashes']} crashes.",
        "",
    ]
    if args.table:
        table = open(args.table, encoding="utf-8").read()
        out += [table.split("\nFeature coverage")[0].rstrip(), ""]

    inval = [f for f in fails if any(not x["valid"] for x in f.get("failures", []))]
    out += [f"## Invalidation errors: invalid instances accepted ({len(inval)} schemas) — correctness bugs", ""]
    if not inval:
        out += ["None.", ""]
    for f in inval:
        for x in f["failures"]:
            if x["valid"]:
                continue
            end = "the grammar could end there" if x.get("can_terminate") else \
                "only as a prefix: CanTerminate was false after it"
            out.append(f"- **{f['id']}** test #{x['test']} ({end}): {code(x['instance'])}")
    out.append("")

    for kind in ("crash", "timeout", "bad_file"):
        lst = by_outcome.get(kind, [])
        out += [f"## {kind} ({len(lst)})", ""]
        out += [f"- {f['id']}: {f.get('error', '')}" for f in lst] or ["None."]
        out.append("")

    groups = r.get("compile_error_groups", [])
    out += [f"## Compile errors by message ({r['compile_errors']} schemas, {len(groups)} groups)", "",
            "| count | stage: message | e.g. |", "|--:|:--|:--|"]
    for g in groups:
        out.append(f"| {g['count']} | {g['message'].replace('|', '/')} | {g['example']} |")
    out.append("")

    feats = [x for x in r.get("features", []) if x["schemas"] - x["passing"] > 0]
    out += ["## Features by failures (meta.raw_features)", "",
            "| feature | schemas | passing | compile | validation | invalidation | timeout/crash |",
            "|:--|--:|--:|--:|--:|--:|--:|"]
    for x in feats[:60]:
        out.append(f"| {x['feature']} | {x['schemas']} | {x['passing']} | {x['compile_errors']} | "
                   f"{x['validation_errors']} | {x['invalidation_errors']} | {x['timeouts_crashes']} |")
    out.append("")

    val = [f for f in fails if any(x["valid"] for x in f.get("failures", []))]
    out += [f"## Validation errors: valid instances refused ({len(val)} schemas; first "
            f"{args.max_validation} shown, one instance each)", ""]
    for f in val[: args.max_validation]:
        x = next(x for x in f["failures"] if x["valid"])
        out.append(f"- **{f['id']}** test #{x['test']}: refused token {code(x['refused_token'])} "
                   f"at {x['refused_token_index']} after {code(x['accepted_prefix'][-160:])}")
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
