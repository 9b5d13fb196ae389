#!/usr/bin/env python3
"""loadtest/maskbench_walk_profile.py — the token mask walks of a maskbench
run summed by the kind of rule they were keyed with: which entries make the
mask tail. Reads the stderr lines that INFERD_MASK_WALK_LOG_US=N prints
(engine/structured_output/compiled_grammar.cc: one per walk of N µs or
more). A kind is the key's rule names top first, joined by `<`, with
numbers folded (`key-not-listed-12<key-3` -> `key-not-listed-N<key-N`).

  INFERD_MASK_WALK_LOG_US=150 build/maskbench DATA --shuffle 1 --limit 2500 \
      --cpu-clock --json x.json --failures x.jsonl 2> walks.txt
  python3 loadtest/maskbench_walk_profile.py walks.txt --over 500
"""
import argparse
import collections
import re


def kind(rules):
    return re.sub(r"[0-9]+", "N", rules)


def parse(line):
    """(µs, frames, kind) of a `mask-walk` line, or None."""
    m = re.match(r"mask-walk us=(\d+) frames=(\d+) shallow_uncertain=\d+ uncertain=\d+ (\S*)",
                 line)
    if m is None:
        return None
    return float(m.group(1)), int(m.group(2)), kind(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log", help="maskbench's stderr")
    ap.add_argument("--over", type=float, default=500.0,
                    help="count walks of at least this many µs (default 500)")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    count = collections.Counter()
    total = collections.Counter()
    walks = 0
    with open(args.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = parse(line)
            if p is None or p[0] < args.over:
                continue
            us, _, k = p
            walks += 1
            count[k] += 1
            total[k] += us
    print(f"{walks} walks of >= {args.over:g} µs")
    print("| walks | share | mean µs | total ms | key (top frame first) |")
    print("|--:|--:|--:|--:|:--|")
    for k, c in count.most_common(args.top):
        print(f"| {c} | {100.0 * c / max(walks, 1):.1f}% | {total[k] / c:.0f} | "
              f"{total[k] / 1000:.0f} | `{k}` |")


if __name__ == "__main__":
    main()
