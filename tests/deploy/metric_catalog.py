"""tests/deploy/metric_catalog.py — deploy/metrics.txt: the metric families
inferd exports, read into a Catalog that answers which series names and labels
exist. Every other check (PromQL references, a live scrape) asks this one."""

import dataclasses
import re

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("gauge", "counter", "histogram")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Every family carries it (the model served).
COMMON_LABEL = "model_name"
PREFIX = "inferd:"

# Labels Prometheus attaches to every scraped series (job, instance) and the
# ones Kubernetes service discovery and the Prometheus Operator add; queries
# may group or filter on them although the daemon does not export them.
TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "service", "container", "endpoint", "node"})

# Series Prometheus itself produces for every target or rule.
PROMETHEUS_SERIES = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
     "ALERTS", "ALERTS_FOR_STATE"})


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    type: str
    labels: tuple  # besides model_name

    def all_labels(self):
        return frozenset((COMMON_LABEL,) + self.labels)


class CatalogError(Exception):
    pass


class Catalog:
    """The families of deploy/metrics.txt, by name, in file order."""

    def __init__(self, families):
        self.families = {f.name: f for f in families}

    @classmethod
    def parse(cls, text, source="metrics.txt"):
        families = []
        errors = []
        seen = set()
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{source}:{lineno}"
            parts = line.split()
            if len(parts) not in (2, 3):
                errors.append(f"{where}: expected 'NAME TYPE [LABELS]', got {line!r}")
                continue
            name, type_ = parts[0], parts[1]
            labels = tuple(parts[2].split(",")) if len(parts) == 3 else ()
            if not METRIC_NAME_RE.match(name):
                errors.append(f"{where}: {name!r} is not a Prometheus metric name")
            if not name.startswith(PREFIX):
                errors.append(f"{where}: {name} lacks the {PREFIX} prefix")
            if type_ not in TYPES:
                errors.append(f"{where}: type {type_!r} is not one of {', '.join(TYPES)}")
            if type_ == "counter" and not name.endswith("_total"):
                errors.append(f"{where}: counter {name} must end in _total")
            for label in labels:
                if not LABEL_NAME_RE.match(label) or label.startswith("__"):
                    errors.append(f"{where}: {label!r} is not a usable label name")
                if label in (COMMON_LABEL, "le", "quantile") or label in TARGET_LABELS:
                    errors.append(f"{where}: label {label} is reserved (common, histogram or target label)")
            if len(set(labels)) != len(labels):
                errors.append(f"{where}: a label is listed twice")
            if name in seen:
                errors.append(f"{where}: {name} is listed twice")
            seen.add(name)
            families.append(Family(name, type_, labels))
        catalog = cls(families)
        for fam in families:
            if fam.type == "histogram":
                for suffix in HISTOGRAM_SUFFIXES:
                    if fam.name + suffix in catalog.families:
                        errors.append(f"{source}: {fam.name + suffix} collides with histogram {fam.name}")
        if not families:
            errors.append(f"{source}: no metric families")
        if errors:
            raise CatalogError("\n".join(errors))
        return catalog

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.parse(f.read(), str(path))

    def family_of_series(self, series):
        """The family a series name belongs to, with the histogram suffix it
        carries ('' for a gauge or counter), or (None, '')."""
        fam = self.families.get(series)
        if fam is not None:
            return fam, ""
        for suffix in HISTOGRAM_SUFFIXES:
            if series.endswith(suffix):
                fam = self.families.get(series[: -len(suffix)])
                if fam is not None and fam.type == "histogram":
                    return fam, suffix
        return None, ""

    def series_labels(self, series):
        """Labels the daemon puts on a series (None: not a series of ours)."""
        fam, suffix = self.family_of_series(series)
        if fam is None:
            return None
        if fam.type == "histogram" and suffix == "":
            return None  # a histogram's bare name is no series
        labels = set(fam.all_labels())
        if suffix == "_bucket":
            labels.add("le")
        return frozenset(labels)

    def known_labels(self):
        """Every label a query over our series may name."""
        labels = {COMMON_LABEL, "le", "__name__"} | set(TARGET_LABELS)
        for fam in self.families.values():
            labels.update(fam.labels)
        return frozenset(labels)
