#!/usr/bin/env python3
"""tests/deploy/check_deploy.py — checks of deploy/ (Dockerfile, Kubernetes
manifests, Grafana dashboard, Prometheus rules) against each other and
against deploy/metrics.txt, the list of metric families inferd exports.

  check_deploy.py [CHECK...]            run checks (default: all of them)
  check_deploy.py --metrics-url URL     check a live scrape against metrics.txt
  check_deploy.py --metrics-file FILE   the same for a saved exposition
  check_deploy.py --write-prometheusrule
                                        regenerate deploy/k8s/monitoring/prometheusrule.yaml

Checks: selftest metrics promql promtool yamllint kustomize gateway dockerfile.
A check whose tool is missing prints 'SKIP: <why>' and exits 0 (CTest marks
it skipped); any problem prints a line and exits 1. Python 3 stdlib plus
PyYAML (Debian: python3-yaml). Tools: yamllint, promtool (Debian:
prometheus), kubectl (kustomize built in) or kustomize; KUBECTL=path picks
another kubectl."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.dont_write_bytecode = True  # keep tests/deploy free of __pycache__

import dockerfile_lint  # noqa: E402
import exposition  # noqa: E402
import gateway_checks  # noqa: E402
import manifest_checks  # noqa: E402
import promql_refs  # noqa: E402
from metric_catalog import Catalog, CatalogError  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
METRICS_TXT = os.path.join(DEPLOY, "metrics.txt")
DASHBOARD = os.path.join(DEPLOY, "grafana", "inferd.json")
RULE_FILES = [os.path.join(DEPLOY, "prometheus", f) for f in ("recording-rules.yml", "alerting-rules.yml")]
PROMETHEUS_YML = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
RULES_TEST = os.path.join(REPO, "tests", "deploy", "rules_test.yml")
K8S = os.path.join(DEPLOY, "k8s")
GATEWAY = os.path.join(K8S, "inference-gateway")
PROMETHEUS_RULE = os.path.join(K8S, "monitoring", "prometheusrule.yaml")
ADAPTER_RULES = os.path.join(K8S, "prometheus-adapter-rules.yaml")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")
YAMLLINT_CONFIG = os.path.join(DEPLOY, ".yamllint")

# Flags the deployment files may pass before `inferd serve` defines them
# (none now: --metrics-port, --drain-timeout and --log-format have landed).
PENDING_FLAGS = frozenset()
HPA_SERIES = "inferd:num_requests_waiting"
SEVERITIES = ("critical", "warning", "info")


class Skip(Exception):
    pass


class Report:
    def __init__(self):
        self.errors = []
        self.notes = []

    def error(self, msg):
        self.errors.append(msg)

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)


def rel(path):
    return os.path.relpath(path, REPO)


def need_yaml():
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise Skip("PyYAML is not installed (Debian: apt-get install python3-yaml)") from None
    return yaml


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return need_yaml().safe_load(f)


def load_catalog():
    try:
        return Catalog.load(METRICS_TXT)
    except CatalogError as e:
        raise SystemExit(f"FAIL: deploy/metrics.txt:\n{e}") from None


def known_flags():
    """Flag names that server/ defines with ABSL_FLAG (underscored)."""
    names = set()
    server = os.path.join(REPO, "server")
    for fname in sorted(os.listdir(server)):
        if fname.endswith((".cc", ".h")):
            with open(os.path.join(server, fname), encoding="utf-8") as f:
                names.update(re.findall(r"ABSL_FLAG\s*\(\s*[^,]+?,\s*([a-z0-9_]+)\s*,", f.read()))
    return names


def rule_groups():
    groups = []
    for path in RULE_FILES:
        groups.extend(load_yaml(path).get("groups", []))
    return groups


def recorded_names(groups):
    return {r["record"] for g in groups for r in g.get("rules", []) if "record" in r}


def adapter_rules():
    """(series, exposed name, rule) for each custom rule of the adapter values."""
    values = load_yaml(ADAPTER_RULES)
    out = []
    for rule in values.get("rules", {}).get("custom", []):
        refs = promql_refs.references(rule["seriesQuery"])
        series = refs.selectors[0].metric if refs.selectors else None
        name = rule.get("name", {})
        exposed = series
        if series and name.get("matches"):
            # The adapter's default for an empty `as`: $1 with one group, else $0.
            pattern = re.compile(name["matches"])
            as_ = name.get("as") or ("${1}" if pattern.groups == 1 else "${0}")
            exposed = pattern.sub(re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", as_), series)
        out.append((series, exposed, rule))
    return out


# --- checks -----------------------------------------------------------------

def check_metrics(rep):
    catalog = load_catalog()
    print(f"deploy/metrics.txt: {len(catalog.families)} families")
    for name in catalog.families:
        if not name.startswith("inferd:"):
            rep.error(f"{name}: not inferd:-prefixed")


def check_promql(rep):
    """Every metric name in the dashboard, the rules and the adapter rules is
    in metrics.txt (or recorded by a rule); labels exist; the dashboard is
    well-formed; the PrometheusRule equals the rule files."""
    catalog = load_catalog()
    groups = rule_groups()
    recorded = recorded_names(groups)
    for name in recorded:
        if catalog.family_of_series(name)[0] is not None:
            rep.error(f"recording rule {name} shadows an exported metric")
        if ":" not in name:
            rep.error(f"recording rule {name}: use level:metric:operation naming")
    count = 0
    seen_groups = set()
    for path in RULE_FILES:
        for g in load_yaml(path).get("groups", []):
            if g["name"] in seen_groups:
                rep.error(f"{rel(path)}: rule group {g['name']} defined twice")
            seen_groups.add(g["name"])
            for r in g.get("rules", []):
                what = r.get("record") or r.get("alert")
                where = f"{rel(path)} {g['name']}/{what}"
                for p in promql_refs.check_expression(str(r["expr"]), catalog, recorded, where):
                    rep.error(p)
                count += 1
                if "alert" in r:
                    if r.get("labels", {}).get("severity") not in SEVERITIES:
                        rep.error(f"{where}: severity label must be one of {', '.join(SEVERITIES)}")
                    for key in ("summary", "description"):
                        if not r.get("annotations", {}).get(key):
                            rep.error(f"{where}: no {key} annotation")
    count += check_dashboard(rep, catalog, recorded)
    for series, exposed, rule in adapter_rules():
        where = f"{rel(ADAPTER_RULES)} {series}"
        for p in promql_refs.check_expression(rule["seriesQuery"], catalog, recorded, where):
            rep.error(p)
        query = (rule["metricsQuery"].replace("<<.Series>>", series or "x")
                 .replace("<<.LabelMatchers>>", 'namespace="x", pod=~"y"').replace("<<.GroupBy>>", "pod"))
        for p in promql_refs.check_expression(query, catalog, recorded, where):
            rep.error(p)
        count += 2
        if exposed and ":" in exposed:
            rep.error(f"{where}: the adapter serves {exposed}; rename it without ':' (name.as)")
    if not any(s == HPA_SERIES for s, _, _ in adapter_rules()):
        rep.error(f"{rel(ADAPTER_RULES)}: no rule serves {HPA_SERIES} to the HPA")
    rule_doc = load_yaml(PROMETHEUS_RULE)
    if not rule_doc or rule_doc.get("spec", {}).get("groups") != groups:
        rep.error(f"{rel(PROMETHEUS_RULE)} differs from deploy/prometheus/*.yml "
                  "(regenerate: tests/deploy/check_deploy.py --write-prometheusrule)")
    print(f"checked the metric and label names of {count} expressions")


def dashboard_panels(panels):
    for p in panels:
        yield p
        yield from dashboard_panels(p.get("panels", []))


def check_dashboard(rep, catalog, recorded):
    where0 = rel(DASHBOARD)
    try:
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        rep.error(f"{where0}: {e}")
        return 0
    for key in ("uid", "title", "panels", "templating", "schemaVersion"):
        if key not in dash:
            rep.error(f"{where0}: no {key}")
    if dash.get("schemaVersion", 0) < 36:
        rep.error(f"{where0}: schemaVersion {dash.get('schemaVersion')} predates datasource references by uid")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        rep.error(f"{where0}: no 'datasource' template variable of Prometheus data sources")
    if "model_name" not in variables:
        rep.error(f"{where0}: no 'model_name' template variable")
    count = 0
    for var in variables.values():
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query)
        where = f"{where0} variable {var['name']}"
        if not m:
            rep.error(f"{where}: expected label_values(SELECTOR, LABEL), got {query!r}")
            continue
        expr = promql_refs.substitute_grafana_vars(m.group(1))
        for p in promql_refs.check_expression(expr, catalog, recorded, where):
            rep.error(p)
        if m.group(2) not in catalog.known_labels():
            rep.error(f"{where}: no series has label {m.group(2)!r}")
        count += 1
    ids, cells, used = set(), [], set()
    for panel in dashboard_panels(dash.get("panels", [])):
        where = f"{where0} panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            rep.error(f"{where}: panel id used twice")
        ids.add(panel.get("id"))
        pos = panel.get("gridPos", {})
        if pos.get("x", 0) + pos.get("w", 0) > 24 or not pos.get("w") or not pos.get("h"):
            rep.error(f"{where}: gridPos {pos} is outside the 24-column grid")
        for (x, y, w, h, other) in cells:
            if (pos.get("x", 0) < x + w and x < pos.get("x", 0) + pos.get("w", 0)
                    and pos.get("y", 0) < y + h and y < pos.get("y", 0) + pos.get("h", 0)):
                rep.error(f"{where}: overlaps panel {other!r}")
        cells.append((pos.get("x", 0), pos.get("y", 0), pos.get("w", 0), pos.get("h", 0), panel.get("title")))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            rep.error(f"{where}: datasource is not the ${{datasource}} variable")
        targets = panel.get("targets", [])
        if not targets:
            rep.error(f"{where}: no query")
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids):
            rep.error(f"{where}: refIds repeat")
        for t in targets:
            if t.get("datasource", {}).get("uid") != "${datasource}":
                rep.error(f"{where} {t.get('refId')}: datasource is not the ${{datasource}} variable")
            expr = promql_refs.substitute_grafana_vars(t.get("expr", ""))
            problems = promql_refs.check_expression(expr, catalog, recorded, f"{where} {t.get('refId')}",
                                                    require_label="model_name")
            for p in problems:
                rep.error(p)
            try:
                for sel in promql_refs.references(expr).selectors:
                    fam, _ = catalog.family_of_series(sel.metric)
                    if fam is not None:
                        used.add(fam.name)
            except promql_refs.PromQLError:
                pass
            count += 1
    for name in catalog.families:
        if name not in used:
            rep.error(f"{where0}: no panel shows {name}")
    return count


def dashboard_expressions():
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    for panel in dashboard_panels(dash.get("panels", [])):
        for t in panel.get("targets", []):
            if t.get("expr"):
                yield f"panel {panel.get('id')} {t.get('refId')}", promql_refs.substitute_grafana_vars(t["expr"])


def check_promtool(rep):
    promtool = shutil.which("promtool")
    if not promtool:
        raise Skip("promtool not found (Debian: apt-get install prometheus)")
    version = subprocess.run([promtool, "--version"], capture_output=True, text=True, check=False)
    print((version.stdout or version.stderr).splitlines()[0])
    runs = [[promtool, "check", "rules", *RULE_FILES],
            [promtool, "check", "config", PROMETHEUS_YML],
            [promtool, "test", "rules", RULES_TEST]]
    # The dashboard's queries, as recording rules, through Prometheus' parser.
    with tempfile.TemporaryDirectory() as tmp:
        yaml = need_yaml()
        rules = [{"record": f"dashboard:query:{i}", "expr": expr}
                 for i, (_, expr) in enumerate(dashboard_expressions())]
        path = os.path.join(tmp, "dashboard-queries.yml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        runs.append([promtool, "check", "rules", path])
        for cmd in runs:
            shown = " ".join(rel(a) if a.startswith(REPO) else ("<dashboard queries>" if a == path else a)
                             for a in cmd[1:])
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
            print(f"$ promtool {shown}: exit {res.returncode}")
            if res.returncode != 0:
                rep.error(f"promtool {shown} failed:\n{res.stdout}{res.stderr}")


def check_yamllint(rep):
    yamllint = shutil.which("yamllint")
    if not yamllint:
        raise Skip("yamllint not found (Debian: apt-get install yamllint)")
    res = subprocess.run([yamllint, "--version"], capture_output=True, text=True, check=False)
    print(res.stdout.strip())
    targets = [DEPLOY, os.path.join(REPO, "tests", "deploy")]
    res = subprocess.run([yamllint, "--strict", "-f", "parsable", "-c", YAMLLINT_CONFIG, *targets],
                         capture_output=True, text=True, cwd=REPO, check=False)
    if res.returncode != 0:
        rep.error(f"yamllint:\n{res.stdout}{res.stderr}")
    else:
        print("yamllint: no problems in deploy/ and tests/deploy/")


def kustomize_command():
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"], kubectl
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"], kustomize
    raise Skip("neither kubectl nor kustomize found (Debian: apt-get install kubernetes-client)")


def kustomizations():
    dirs = [os.path.join(K8S, "base"), os.path.join(K8S, "monitoring")]
    overlays = os.path.join(K8S, "overlays")
    dirs += [os.path.join(overlays, d) for d in sorted(os.listdir(overlays))]
    return dirs


def check_kustomize(rep):
    yaml = need_yaml()
    cmd, tool = kustomize_command()
    version = subprocess.run([tool, "version", "--client"] if cmd[1] == "kustomize" else [tool, "version"],
                             capture_output=True, text=True, check=False, timeout=60)
    print(" ".join((version.stdout or version.stderr).split())[:200])
    ctx = {"known_flags": known_flags(), "pending_flags": PENDING_FLAGS,
           "hpa_metric": next((e for s, e, _ in adapter_rules() if s == HPA_SERIES), None),
           "rule_groups": rule_groups()}
    for kdir in kustomizations():
        name = os.path.relpath(kdir, K8S)
        res = subprocess.run(cmd + [kdir], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            rep.error(f"{' '.join(cmd[-1:])} {rel(kdir)} failed:\n{res.stderr}")
            continue
        docs = [d for d in yaml.safe_load_all(res.stdout) if d]
        kinds = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
        print(f"{rel(kdir)}: {kinds}")
        for d in docs:
            if any(str(k).startswith("$patch") for k in d):
                rep.error(f"{rel(kdir)}: {d['kind']} kept a $patch directive (this kustomize cannot apply it)")
        errors, notes = manifest_checks.check(name, docs, ctx)
        for e in errors:
            rep.error(e)
        for n in notes:
            rep.note(n)


def render(cmd, kdir):
    yaml = need_yaml()
    res = subprocess.run(cmd + [kdir], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd[-1:])} {rel(kdir)}:\n{res.stderr}")
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def check_gateway(rep):
    """deploy/k8s/inference-gateway: rendered, checked against the base and
    deploy/metrics.txt; then broken copies of it must fail the same check."""
    yaml = need_yaml()
    cmd, _ = kustomize_command()
    catalog = load_catalog()
    docs = render(cmd, GATEWAY)
    base = render(cmd, os.path.join(K8S, "base"))
    print(f"{rel(GATEWAY)}: " + ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in docs))
    for e in gateway_checks.check(docs, base, catalog, yaml.safe_load):
        rep.error(f"{rel(GATEWAY)}: {e}")

    def config_edit(edit):
        def apply(d):
            [cm] = [x for x in d if x["kind"] == "ConfigMap"]
            config = yaml.safe_load(cm["data"]["epp-config.yaml"])
            edit(config)
            cm["data"]["epp-config.yaml"] = yaml.safe_dump(config)
        return apply

    def engine(config):
        [ex] = [p for p in config["plugins"] if p["type"] == "core-metrics-extractor"]
        return ex["parameters"]["engineConfigs"][0]

    def one(kind, d):
        return next(x for x in d if x["kind"] == kind)

    def epp_args(d):
        return one("Deployment", d)["spec"]["template"]["spec"]["containers"][0]["args"]

    broken = {
        "a target port that is not --http-port":
            lambda d: one("InferencePool", d)["spec"].update(targetPorts=[{"number": 50051}]),
        "a selector matching no inferd pod":
            lambda d: one("InferencePool", d)["spec"]["selector"].update(matchLabels={"app": "vllm"}),
        "h2c for an HTTP/1.1 server":
            lambda d: one("InferencePool", d)["spec"].update(appProtocol="kubernetes.io/h2c"),
        "a picker Service that is not there":
            lambda d: one("InferencePool", d)["spec"]["endpointPickerRef"].update(name="epp"),
        "a picker port the Service lacks":
            lambda d: one("InferencePool", d)["spec"]["endpointPickerRef"].update(port={"number": 9}),
        "the picker started for another pool":
            lambda d: epp_args(d).__setitem__(0, "--pool-name=other"),
        "the picker scraping the HTTP port":
            lambda d: epp_args(d).remove("--model-server-metrics-port=8002"),
        "a refused metric flag":
            lambda d: epp_args(d).append("--total-queued-requests-metric=inferd:num_requests_waiting"),
        "a route to a Service":
            lambda d: one("HTTPRoute", d)["spec"]["rules"][0]["backendRefs"][0].update(
                kind="Service", group=""),
        "vLLM's queue metric name":
            config_edit(lambda c: engine(c).update(queuedRequestsSpec="vllm:num_requests_waiting")),
        "a counter as the KV usage":
            config_edit(lambda c: engine(c).update(kvUsageSpec="inferd:prompt_tokens_total")),
        "a cache-info label inferd lacks":
            config_edit(lambda c: engine(c).update(cacheNumBlocksLabelName="num_gpu_blocks")),
        "the built-in vllm engine":
            config_edit(lambda c: next(p for p in c["plugins"]
                                       if p["type"] == "core-metrics-extractor")["parameters"]
                        .update(defaultEngine="vllm")),
        "a pluginRef to no plugin":
            config_edit(lambda c: c["schedulingProfiles"][0]["plugins"].append({"pluginRef": "nope"})),
    }
    for what, edit in broken.items():
        copy = json.loads(json.dumps(docs))
        edit(copy)
        if not gateway_checks.check(copy, base, catalog, yaml.safe_load):
            rep.error(f"gateway selftest: a copy with {what} passed")
    print(f"gateway: the pool, route and picker agree with the base and deploy/metrics.txt; "
          f"{len(broken)} broken copies refused")


def check_dockerfile(rep):
    ports = {}
    base = load_yaml(os.path.join(K8S, "base", "deployment.yaml"))
    for c in base["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports", []):
            ports[p["name"]] = p["containerPort"]
    errors, notes = dockerfile_lint.lint(DOCKERFILE, REPO, known_flags(), PENDING_FLAGS, ports)
    for e in errors:
        rep.error(f"{rel(DOCKERFILE)}: {e}")
    for n in notes:
        rep.note(n)
    # The build stage reads the package list out of scripts/setup.sh: does it still?
    sed = dockerfile_lint.setup_packages_command(DOCKERFILE)
    if sed is None:
        rep.error(f"{rel(DOCKERFILE)}: no eval \"$(sed ... scripts/setup.sh)\" reading setup.sh's packages")
    else:
        res = subprocess.run(["bash", "-c", f'eval "$({sed})"; printf "%s\\n" "${{packages[@]}}"'],
                             capture_output=True, text=True, cwd=REPO, check=False)
        packages = res.stdout.split()
        if res.returncode != 0 or not packages:
            rep.error(f"{rel(DOCKERFILE)}: reading packages out of scripts/setup.sh gave nothing:\n{res.stderr}")
        else:
            print(f"build stage installs setup.sh's {len(packages)} packages")
    script = os.path.join(DEPLOY, "runtime-packages.sh")
    if shutil.which("dpkg") and shutil.which("ldd"):
        res = subprocess.run([script, "/bin/sh"], capture_output=True, text=True, check=False)
        if res.returncode != 0 or "libc6" not in res.stdout.split():
            rep.error(f"deploy/runtime-packages.sh /bin/sh should name libc6:\n{res.stdout}{res.stderr}")
        else:
            print(f"runtime-packages.sh /bin/sh: {' '.join(res.stdout.split())}")
    if shutil.which("shellcheck"):
        res = subprocess.run(["shellcheck", script], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            rep.error(f"shellcheck deploy/runtime-packages.sh:\n{res.stdout}")
    print("Dockerfile lint done")


def check_scrape(rep, text, source, allow_absent):
    catalog = load_catalog()
    try:
        parsed = exposition.parse(text)
    except exposition.ExpositionError as e:
        rep.error(f"{source}: {e}")
        return
    errors, notes = exposition.check(parsed, catalog, allow_absent)
    for e in errors:
        rep.error(f"{source}: {e}")
    for n in notes:
        rep.note(f"{source}: {n}")
    ours = [n for n in parsed.types if n.startswith("inferd:")]
    print(f"{source}: {len(ours)} inferd: families, {len(parsed.samples)} samples")


def check_selftest(rep):
    """The checkers themselves: a good exposition passes, broken ones fail;
    the PromQL scanner classifies identifiers as it should."""
    catalog = load_catalog()
    good = exposition.synthesize(catalog)
    errors, _ = exposition.check(exposition.parse(good), catalog)
    for e in errors:
        rep.error(f"selftest: synthesized exposition: {e}")
    bad_cases = {
        "a family missing": "\n".join(l for l in good.splitlines()
                                      if "inferd:num_preemptions_total" not in l),
        "an extra family": good + "# TYPE inferd:bogus gauge\ninferd:bogus{model_name=\"m\"} 1\n",
        "model_name missing": good.replace('inferd:num_requests_running{model_name="stories260K"}',
                                           "inferd:num_requests_running{}"),
        "a wrong type": good.replace("# TYPE inferd:num_requests_waiting gauge",
                                     "# TYPE inferd:num_requests_waiting counter"),
        "a histogram without +Inf": "\n".join(l for l in good.splitlines()
                                              if not ("time_to_first_token_seconds_bucket" in l and "+Inf" in l)),
        "a label too many": good.replace('inferd:kv_cache_usage_perc{model_name="stories260K"}',
                                         'inferd:kv_cache_usage_perc{model_name="stories260K",gpu="0"}'),
        "usage above 1": good.replace('inferd:kv_cache_usage_perc{model_name="stories260K"} 0.25',
                                      'inferd:kv_cache_usage_perc{model_name="stories260K"} 25'),
    }
    for what, text in bad_cases.items():
        errors, _ = exposition.check(exposition.parse(text), catalog)
        if not errors:
            rep.error(f"selftest: an exposition with {what} passed")
    # Python clients write '# TYPE x counter' for x_total samples: accepted.
    py_style = good.replace("# TYPE inferd:prompt_tokens_total counter", "# TYPE inferd:prompt_tokens counter")
    errors, _ = exposition.check(exposition.parse(py_style), catalog)
    if errors:
        rep.error(f"selftest: '# TYPE x counter' with x_total samples rejected: {errors}")

    cases = [
        ('sum by (le) (rate(inferd:time_to_first_token_seconds_bucket{model_name=~"a]"}[5m:1m] offset 1h))',
         ["inferd:time_to_first_token_seconds_bucket"], []),
        ("histogram_quantile(0.99, rate(inferd:e2e_request_latency_seconds[5m]))", [], ["histogram"]),
        ("rate(inferd:no_such_metric_total[5m])", [], ["neither in deploy/metrics.txt"]),
        ('inferd:request_success_total{code="x"}', [], ["has no label 'code'"]),
        ("sum by (finish_reason) (rate(inferd:request_success_total[5m]))", [], ["no series has label"]),
        ("histogram_quantil(0.5, x)", [], ["unknown function"]),
        ('a:b:c / on(instance) group_left(model_name) up{job="inferd"} > bool 1e3',
         ["a:b:c", "up"], []),
    ]
    for expr, metrics, expect in cases:
        problems = promql_refs.check_expression(expr, catalog, {"a:b:c"}, "selftest")
        got = [s.metric for s in promql_refs.references(expr).selectors]
        if metrics and got != metrics:
            rep.error(f"selftest: {expr!r}: metrics {got}, expected {metrics}")
        if not expect and problems:
            rep.error(f"selftest: {expr!r}: unexpected {problems}")
        for e in expect:
            if not any(e in p for p in problems):
                rep.error(f"selftest: {expr!r}: expected a problem containing {e!r}, got {problems}")
    print(f"selftest: {len(bad_cases) + 2} expositions, {len(cases)} expressions")


def write_prometheusrule():
    """deploy/k8s/monitoring/prometheusrule.yaml from the rule files, their
    text (comments included) indented under spec.groups."""
    out = [
        "# GENERATED by tests/deploy/check_deploy.py --write-prometheusrule from",
        "# deploy/prometheus/recording-rules.yml and alerting-rules.yml: edit those,",
        "# then regenerate. The Prometheus Operator loads rules from this object;",
        "# your Prometheus' ruleSelector must select it (kube-prometheus-stack: the",
        "# label release=<its release name>, or ruleSelectorNilUsesHelmValues=false).",
        "apiVersion: monitoring.coreos.com/v1",
        "kind: PrometheusRule",
        "metadata:",
        "  name: inferd",
        "  labels:",
        "    app.kubernetes.io/name: inferd",
        "    app.kubernetes.io/component: server",
        "spec:",
        "  groups:",
    ]
    for path in RULE_FILES:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        start = lines.index("groups:") + 1
        out.extend(("  " + ln) if ln.strip() else "" for ln in lines[start:])
    with open(PROMETHEUS_RULE, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")
    print(f"wrote {rel(PROMETHEUS_RULE)}")


CHECKS = {
    "selftest": check_selftest,
    "metrics": check_metrics,
    "promql": check_promql,
    "promtool": check_promtool,
    "yamllint": check_yamllint,
    "kustomize": check_kustomize,
    "gateway": check_gateway,
    "dockerfile": check_dockerfile,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checks", nargs="*",
                        help=f"checks to run: {', '.join(CHECKS)} (default: all)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--metrics-url", help="scrape this URL (e.g. http://127.0.0.1:8002/metrics) and check it")
    source.add_argument("--metrics-file", help="check a saved Prometheus text exposition")
    parser.add_argument("--allow-absent", action="store_true",
                        help="with --metrics-*: a listed family missing from the scrape is a note, not an error "
                             "(labelled families appear only once a sample exists)")
    parser.add_argument("--write-prometheusrule", action="store_true",
                        help="regenerate deploy/k8s/monitoring/prometheusrule.yaml and exit")
    args = parser.parse_args()
    if args.write_prometheusrule:
        write_prometheusrule()
        return 0
    unknown = [c for c in args.checks if c not in CHECKS]
    if unknown:
        parser.error(f"unknown check {', '.join(unknown)} (choose from {', '.join(CHECKS)})")

    rep = Report()
    skipped = []
    if args.metrics_url or args.metrics_file:
        if args.metrics_url:
            try:
                with urllib.request.urlopen(args.metrics_url, timeout=10) as resp:
                    text = resp.read().decode("utf-8")
            except OSError as e:
                print(f"FAIL: cannot scrape {args.metrics_url}: {e}")
                return 1
            check_scrape(rep, text, args.metrics_url, args.allow_absent)
        else:
            with open(args.metrics_file, encoding="utf-8") as f:
                check_scrape(rep, f.read(), args.metrics_file, args.allow_absent)
        selected = args.checks
    else:
        selected = args.checks or list(CHECKS)
    for name in selected:
        try:
            CHECKS[name](rep)
        except Skip as e:
            skipped.append(f"{name}: {e}")
    for n in rep.notes:
        print(f"note: {n}")
    for e in rep.errors:
        print(f"FAIL: {e}")
    if rep.errors:
        print(f"{len(rep.errors)} problem(s)")
        return 1
    if skipped and len(skipped) == len(selected):
        for s in skipped:
            print(f"SKIP: {s}")
        return 0
    for s in skipped:
        print(f"skipped {s}")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
