"""tests/deploy/promql_refs.py — what a PromQL expression refers to: metric
names (with the label matchers written on each), the labels named in by/
without/on/ignoring/group_left/group_right lists, and the functions called.

Not a full parser (promtool checks syntax): a lexer that knows strings, range
and subquery brackets, durations, numbers and keywords, so that an identifier
is classified by where it stands:
  ident (                     a function or aggregation call
  by|without|on|... ( a, b )  label names
  { a="x", b=~"y" }           label matchers (of the selector before them)
  and|or|unless|bool|offset   keywords
  anything else               a metric name
Grafana variables are replaced before lexing (substitute_grafana_vars)."""

import dataclasses
import re

from metric_catalog import PROMETHEUS_SERIES, TARGET_LABELS

FUNCTIONS = frozenset("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
deg delta deriv double_exponential_smoothing exp floor histogram_avg histogram_count
histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum
holt_winters hour idelta increase info irate label_join label_replace last_over_time ln log10
log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time
timestamp vector year start end
""".split())
AGGREGATIONS = frozenset(
    "sum avg count min max group stddev stdvar topk bottomk quantile count_values limitk limit_ratio".split())
LABEL_LIST_KEYWORDS = frozenset("by without on ignoring group_left group_right".split())
KEYWORDS = frozenset("and or unless bool offset atan2 inf nan".split())
MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})

_TOKEN_RE = re.compile(r"""
  (?P<ws>\s+)
| (?P<comment>\#[^\n]*)
| (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
| (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![A-Za-z0-9_:])
| (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
| (?P<ident>[a-zA-Z_][a-zA-Z0-9_:]*|:[a-zA-Z_:][a-zA-Z0-9_:]*)
| (?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},@\[\]])
""", re.VERBOSE)

_GRAFANA_INTERVAL_RE = re.compile(r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}")
_GRAFANA_VAR_RE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]")


class PromQLError(Exception):
    pass


@dataclasses.dataclass
class Token:
    kind: str
    text: str
    pos: int


@dataclasses.dataclass
class Selector:
    metric: str
    matcher_labels: tuple  # label names in the {...} written right after it
    pos: int


@dataclasses.dataclass
class Refs:
    selectors: list  # Selector
    labels: list  # label names from by/without/on/... lists and every matcher
    functions: list  # names called


def substitute_grafana_vars(expr):
    """Grafana's $__rate_interval & co. become a duration, other variables
    ($model_name, ${datasource}, [[x]]) a plain word: the result is PromQL."""
    expr = _GRAFANA_INTERVAL_RE.sub("5m", expr)
    return _GRAFANA_VAR_RE.sub("x", expr)


def tokenize(expr):
    tokens = []
    pos = 0
    while pos < len(expr):
        if expr[pos] == "[":
            # A range or subquery: durations, a colon, Grafana intervals. Skip.
            end = expr.find("]", pos)
            if end < 0:
                raise PromQLError(f"unclosed '[' at {pos}")
            tokens.append(Token("range", expr[pos:end + 1], pos))
            pos = end + 1
            continue
        m = _TOKEN_RE.match(expr, pos)
        if m is None:
            raise PromQLError(f"unexpected {expr[pos]!r} at {pos}")
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def _matching(tokens, i, open_, close):
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].kind == "op" and tokens[j].text == open_:
            depth += 1
        elif tokens[j].kind == "op" and tokens[j].text == close:
            depth -= 1
            if depth == 0:
                return j
    raise PromQLError(f"unclosed {open_!r} at {tokens[i].pos}")


def references(expr):
    """The Refs of one PromQL expression (Grafana variables already replaced)."""
    tokens = tokenize(expr)
    refs = Refs([], [], [])
    i = 0
    n = len(tokens)

    def is_op(k, text):
        return k < n and tokens[k].kind == "op" and tokens[k].text == text

    while i < n:
        tok = tokens[i]
        if tok.kind == "ident":
            lower = tok.text.lower()
            if lower in LABEL_LIST_KEYWORDS:
                if is_op(i + 1, "("):
                    end = _matching(tokens, i + 1, "(", ")")
                    for t in tokens[i + 2:end]:
                        if t.kind == "ident":
                            refs.labels.append(t.text)
                        elif not (t.kind == "op" and t.text == ","):
                            raise PromQLError(f"unexpected {t.text!r} in {tok.text}(...) at {t.pos}")
                    i = end + 1
                else:
                    i += 1
                continue
            if lower in KEYWORDS:
                i += 1
                continue
            if is_op(i + 1, "("):
                refs.functions.append(tok.text)
                i += 1
                continue
            if tok.text in AGGREGATIONS and i + 1 < n and tokens[i + 1].kind == "ident" \
                    and tokens[i + 1].text in ("by", "without"):
                refs.functions.append(tok.text)
                i += 1
                continue
            matcher_labels = ()
            j = i + 1
            if is_op(j, "{"):
                end = _matching(tokens, j, "{", "}")
                matcher_labels = tuple(_matchers(tokens[j + 1:end]))
                j = end + 1
            refs.selectors.append(Selector(tok.text, matcher_labels, tok.pos))
            refs.labels.extend(matcher_labels)
            i = j
            continue
        if tok.kind == "op" and tok.text == "{":
            # A selector without a metric name: {__name__="x", a="b"}.
            end = _matching(tokens, i, "{", "}")
            refs.labels.extend(_matchers(tokens[i + 1:end]))
            i = end + 1
            continue
        i += 1
    return refs


def _matchers(tokens):
    """Label names of 'name op "value", ...' (Prometheus 3 quoted names skipped)."""
    names = []
    k = 0
    while k < len(tokens):
        t = tokens[k]
        if t.kind == "ident" and k + 2 < len(tokens) and tokens[k + 1].kind == "op" \
                and tokens[k + 1].text in MATCH_OPS and tokens[k + 2].kind == "string":
            names.append(t.text)
            k += 3
        elif t.kind == "string" or (t.kind == "op" and t.text == ","):
            k += 1
        else:
            raise PromQLError(f"unexpected {t.text!r} in a label matcher at {t.pos}")
    return names


def check_expression(expr, catalog, recorded, where, require_label=None):
    """Problems with one expression: unknown metric names, bare histogram
    names, labels that no series has, unknown functions. recorded: names of
    recording rules (any known label allowed on them). require_label: a label
    every selector of an inferd: series must match on (the dashboard's
    model_name variable)."""
    problems = []
    try:
        refs = references(expr)
    except PromQLError as e:
        return [f"{where}: cannot read expression: {e}"]
    known_labels = catalog.known_labels()
    for fn in refs.functions:
        if fn not in FUNCTIONS and fn not in AGGREGATIONS:
            problems.append(f"{where}: unknown function {fn}()")
    for sel in refs.selectors:
        name = sel.metric
        series_labels = catalog.series_labels(name)
        if series_labels is not None:
            allowed = series_labels | TARGET_LABELS
            for label in sel.matcher_labels:
                if label != "__name__" and label not in allowed:
                    problems.append(f"{where}: {name} has no label {label!r}")
            if require_label and require_label not in sel.matcher_labels:
                problems.append(f"{where}: selector {name} does not match on {require_label}")
            continue
        fam, suffix = catalog.family_of_series(name)
        if fam is not None and fam.type == "histogram" and suffix == "":
            problems.append(f"{where}: histogram {name} has no series of that name "
                            "(use _bucket, _sum or _count)")
        elif name in recorded or name in PROMETHEUS_SERIES:
            for label in sel.matcher_labels:
                if label not in known_labels:
                    problems.append(f"{where}: no series has label {label!r} (on {name})")
        else:
            problems.append(f"{where}: {name} is neither in deploy/metrics.txt nor a recording rule")
    for label in refs.labels:
        if label not in known_labels:
            problems.append(f"{where}: no series has label {label!r}")
    return problems

