"""tests/deploy/exposition.py — the Prometheus text exposition format (what
GET /metrics returns), parsed, and checked against deploy/metrics.txt:
exactly the listed inferd: families with their types, every sample labelled
model_name plus the family's own labels, histograms complete.

synthesize() writes an exposition from the catalog, as the daemon should; the
self-test checks that it passes and that broken variants fail."""

import dataclasses
import math
import re

from metric_catalog import COMMON_LABEL, HISTOGRAM_SUFFIXES, PREFIX

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


class ExpositionError(Exception):
    pass


@dataclasses.dataclass
class Sample:
    name: str
    labels: dict
    value: float
    lineno: int


@dataclasses.dataclass
class Exposition:
    types: dict  # family name as in '# TYPE' -> type
    samples: list  # Sample


def _parse_value(text, lineno):
    try:
        return float(text)  # accepts NaN, +Inf, -Inf
    except ValueError:
        raise ExpositionError(f"line {lineno}: bad sample value {text!r}") from None


def _parse_labels(text, lineno):
    labels = {}
    body = text[1:-1]
    pos = 0
    while pos < len(body):
        m = _LABEL_RE.match(body, pos)
        if m is None:
            raise ExpositionError(f"line {lineno}: bad labels {text!r}")
        name, value = m.group(1), m.group(2)
        if name in labels:
            raise ExpositionError(f"line {lineno}: label {name} given twice")
        labels[name] = value.replace(r"\"", '"').replace(r"\n", "\n").replace("\\\\", "\\")
        pos = m.end()
    return labels


def parse(text):
    types = {}
    samples = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                if parts[2] in types:
                    raise ExpositionError(f"line {lineno}: second TYPE for {parts[2]}")
                types[parts[2]] = parts[3].strip()
            continue  # HELP, EOF (OpenMetrics), comments
        m = _SAMPLE_RE.match(line)
        if m is None:
            raise ExpositionError(f"line {lineno}: cannot read sample {line!r}")
        labels = _parse_labels(m.group(2), lineno) if m.group(2) else {}
        samples.append(Sample(m.group(1), labels, _parse_value(m.group(3), lineno), lineno))
    return Exposition(types, samples)


def _family_name(name, type_):
    # A Python client writes '# TYPE x counter' for samples x_total; prometheus-cpp
    # writes the full name. Both mean the family x_total of metrics.txt.
    if type_ == "counter" and not name.endswith("_total"):
        return name + "_total"
    return name


def check(exposition, catalog, allow_absent=False):
    """(errors, notes) of an exposition against the catalog."""
    errors, notes = [], []
    exported = {}  # catalog-style family name -> type
    for name, type_ in exposition.types.items():
        if name.startswith(PREFIX):
            exported[_family_name(name, type_)] = type_
    for name, type_ in exported.items():
        fam = catalog.families.get(name)
        if fam is None:
            errors.append(f"{name} ({type_}) is exported but not in deploy/metrics.txt")
        elif fam.type != type_:
            errors.append(f"{name} is exported as {type_}, deploy/metrics.txt says {fam.type}")
    for name, fam in catalog.families.items():
        if name not in exported:
            (notes if allow_absent else errors).append(f"{name} ({fam.type}) is not exported")

    seen_series = {}  # family -> set of suffixes with samples
    inf_buckets = set()  # (family, labels without le) with le="+Inf"
    for s in exposition.samples:
        if not s.name.startswith(PREFIX):
            continue
        where = f"line {s.lineno}: {s.name}"
        if s.name.endswith("_created"):
            continue  # OpenMetrics creation timestamps
        fam, suffix = catalog.family_of_series(s.name)
        if fam is None or (fam.type == "histogram" and suffix == ""):
            if not any(s.name == n or s.name == _family_name(n, t) for n, t in exposition.types.items()):
                errors.append(f"{where}: a sample of no declared (# TYPE) family")
            continue
        expected = set(fam.all_labels()) | ({"le"} if suffix == "_bucket" else set())
        got = set(s.labels)
        if got != expected:
            missing, extra = sorted(expected - got), sorted(got - expected)
            errors.append(f"{where}: labels {sorted(got)}; missing {missing}, unexpected {extra}")
        if not s.labels.get(COMMON_LABEL):
            errors.append(f"{where}: empty or absent {COMMON_LABEL}")
        seen_series.setdefault(fam.name, set()).add(suffix)
        if suffix == "_bucket" and s.labels.get("le") == "+Inf":
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            inf_buckets.add((fam.name, key))
        if fam.type in ("counter",) or suffix in ("_bucket", "_count"):
            if s.value < 0 or math.isnan(s.value):
                errors.append(f"{where}: a counter cannot be {s.value}")
        if fam.name == "inferd:kv_cache_usage_perc" and not 0.0 <= s.value <= 1.0:
            errors.append(f"{where}: {s.value} is outside [0, 1]")
        if fam.name == "inferd:engine_healthy" and s.value not in (0.0, 1.0):
            errors.append(f"{where}: {s.value} is neither 0 nor 1")
    for name, suffixes in seen_series.items():
        fam = catalog.families[name]
        if fam.type == "histogram":
            for suffix in HISTOGRAM_SUFFIXES:
                if suffix not in suffixes:
                    errors.append(f"{name}: histogram without {name}{suffix} samples")
            if not any(f == name for f, _ in inf_buckets):
                errors.append(f"{name}: histogram without a le=\"+Inf\" bucket")
    return errors, notes


def synthesize(catalog, model="stories260K"):
    """An exposition of every catalog family, as the daemon should serve it."""
    lines = []
    for fam in catalog.families.values():
        lines.append(f"# HELP {fam.name} {fam.name}")
        lines.append(f"# TYPE {fam.name} {fam.type}")
        labels = {COMMON_LABEL: model}
        labels.update({label: "1" for label in fam.labels})

        def fmt(extra=None, labels=labels):
            merged = dict(labels, **(extra or {}))
            return "{" + ",".join(f'{k}="{v}"' for k, v in merged.items()) + "}"

        if fam.type == "histogram":
            for le in ("0.1", "1", "+Inf"):
                lines.append(f"{fam.name}_bucket{fmt({'le': le})} 3")
            lines.append(f"{fam.name}_sum{fmt()} 1.5")
            lines.append(f"{fam.name}_count{fmt()} 3")
        elif fam.name == "inferd:kv_cache_usage_perc":
            lines.append(f"{fam.name}{fmt()} 0.25")
        else:
            lines.append(f"{fam.name}{fmt()} 1")
    # What prometheus-cpp adds on its own: not ours, ignored.
    lines.append("# TYPE exposer_transferred_bytes_total counter")
    lines.append("exposer_transferred_bytes_total 1234")
    return "\n".join(lines) + "\n"
