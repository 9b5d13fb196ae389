"""tests/deploy/manifest_checks.py — what must hold in a rendered kustomization
(deploy/k8s/base, monitoring, overlays/*) for inferd to deploy and drain
correctly: probes on the daemon's gRPC port and health services, a grace
period longer than the drain, non-root and read-only, ports and selectors that
match between Deployment, Service, ServiceMonitor, PDB and HPA, known flags,
the HPA metric the adapter serves, and each overlay's promises (dev: CPU only,
one replica; production: a GPU per replica, autoscaled, monitored)."""

import re

READINESS_SERVICE = "inferd.v1.Inference"
LIVENESS_SERVICE = "liveness"
DEFAULT_GRPC_PORT = 50051
DEFAULT_HTTP_PORT = 8000  # --http-port's default; -1 turns the HTTP API off


def _by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def _subset(small, big):
    return all(big.get(k) == v for k, v in (small or {}).items())


def _flags(args):
    flags = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
            flags[name.replace("-", "_")] = value
        i += 1
    return flags


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def check(name, docs, ctx):
    """(errors, notes) of one rendered kustomization. name: 'base',
    'monitoring', 'overlays/dev', ... ctx: dict with known_flags,
    pending_flags, hpa_metric (the name the adapter serves), rule_groups
    (the groups of deploy/prometheus/*.yml)."""
    errors, notes = [], []
    err = lambda msg: errors.append(f"{name}: {msg}")  # noqa: E731
    overlay = name.startswith("overlays/")

    deployments = _by_kind(docs, "Deployment")
    services = _by_kind(docs, "Service")
    hpas = _by_kind(docs, "HorizontalPodAutoscaler")
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    monitors = _by_kind(docs, "ServiceMonitor")
    rules = _by_kind(docs, "PrometheusRule")

    if overlay:
        for d in docs:
            if d.get("kind") != "Namespace" and not d.get("metadata", {}).get("namespace"):
                err(f"{d.get('kind')}/{d['metadata'].get('name')} has no namespace")

    pod_labels, container, flags = {}, None, {}
    if name != "monitoring":
        if len(deployments) != 1:
            err(f"expected one Deployment, found {len(deployments)}")
            return errors, notes
        dep = deployments[0]
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        pod_labels = spec["template"]["metadata"].get("labels", {})
        if not _subset(spec["selector"].get("matchLabels"), pod_labels):
            err("Deployment selector does not match its pod labels")
        containers = {c["name"]: c for c in pod.get("containers", [])}
        container = containers.get("inferd")
        if container is None:
            err("no container named inferd")
            return errors, notes
        _check_container(container, pod, overlay, ctx, err, notes)
        flags = _flags(container.get("args", []))

        if hpas and "replicas" in spec:
            err("Deployment sets replicas although an HPA scales it (every apply would reset it)")

        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
        for svc in services:
            if not _subset(svc["spec"].get("selector"), pod_labels) or not svc["spec"].get("selector"):
                err(f"Service {svc['metadata']['name']} selects no inferd pod")
            names = {p.get("name") for p in svc["spec"].get("ports", [])}
            serves_http = _int(flags.get("http_port"), DEFAULT_HTTP_PORT) >= 0
            for want in ("grpc", "http", "metrics") if serves_http else ("grpc", "metrics"):
                if want not in names:
                    err(f"Service {svc['metadata']['name']} has no port named {want}")
            for p in svc["spec"].get("ports", []):
                target = p.get("targetPort", p.get("port"))
                if isinstance(target, str) and target not in ports:
                    err(f"Service port {p.get('name')} targets {target}, which the container does not name")
                if isinstance(target, int) and target not in ports.values():
                    err(f"Service port {p.get('name')} targets {target}, which the container does not open")
        if not services:
            err("no Service")
        for pdb in pdbs:
            if not _subset(pdb["spec"].get("selector", {}).get("matchLabels"), pod_labels):
                err(f"PodDisruptionBudget {pdb['metadata']['name']} selects no inferd pod")
            if pdb["spec"].get("minAvailable") not in (None, 0, "0%"):
                notes.append(f"{name}: PDB minAvailable blocks draining the last replica; "
                             "maxUnavailable is preferred")
        for hpa in hpas:
            _check_hpa(hpa, dep, ctx, err)

    for mon in monitors:
        sel = mon["spec"].get("selector", {}).get("matchLabels", {})
        matched = [s for s in services if _subset(sel, s["metadata"].get("labels", {}))]
        if services and not matched:
            err(f"ServiceMonitor {mon['metadata']['name']} selects no Service")
        job_label = mon["spec"].get("jobLabel")
        for svc in matched:
            if job_label and svc["metadata"].get("labels", {}).get(job_label) != "inferd":
                err(f"Service label {job_label} must be 'inferd': alerts select job=\"inferd\"")
            names = {p.get("name") for p in svc["spec"].get("ports", [])}
            for ep in mon["spec"].get("endpoints", []):
                if ep.get("port") not in names:
                    err(f"ServiceMonitor endpoint port {ep.get('port')} is not a port of the Service")
        for ep in mon["spec"].get("endpoints", []):
            if ep.get("path", "/metrics") != "/metrics":
                err(f"ServiceMonitor path {ep.get('path')}: the daemon serves /metrics")
    for rule in rules:
        if rule.get("spec", {}).get("groups") != ctx["rule_groups"]:
            err(f"PrometheusRule {rule['metadata']['name']} differs from deploy/prometheus/*.yml "
                "(regenerate: tests/deploy/check_deploy.py --write-prometheusrule)")

    # What each overlay promises.
    if container is not None:
        res = container.get("resources", {})
        gpus = [res.get(k, {}).get("nvidia.com/gpu") for k in ("limits", "requests")]
        if name == "overlays/dev":
            if any(g is not None for g in gpus):
                err("dev must not request a GPU")
            if hpas:
                err("dev has no autoscaler (one replica)")
            if deployments[0]["spec"].get("replicas") != 1:
                err("dev runs exactly one replica")
            if "model" in flags:
                err("dev serves the embedded model: no --model")
        if name in ("overlays/production", "base"):
            if _int(gpus[0]) != 1:
                err("one nvidia.com/gpu limit per replica is expected")
        if name == "overlays/production":
            if not hpas:
                err("production is autoscaled: no HorizontalPodAutoscaler")
            if not monitors:
                err("production is scraped: no ServiceMonitor")
            if not rules:
                err("production is alerted on: no PrometheusRule")
            if not pdbs:
                err("production has no PodDisruptionBudget")
    return errors, notes


def _check_container(c, pod, overlay, ctx, err, notes):
    args = c.get("args", [])
    if c.get("command"):
        err("container overrides the image's command; give args only (ENTRYPOINT is inferd serve)")
    flags = _flags(args)
    for flag in flags:
        if flag not in ctx["known_flags"] and flag not in ctx["pending_flags"]:
            err(f"--{flag.replace('_', '-')} is not an inferd serve flag")
    image = c.get("image", "")
    if overlay:
        tail = image.rsplit("/", 1)[-1]
        if "@" not in image and (":" not in tail or tail.endswith(":latest")):
            err(f"image {image} is not pinned to a tag")
    if flags.get("host") not in ("0.0.0.0", "::", "[::]"):
        err("--host must be 0.0.0.0: the kubelet's probes and the Service reach the pod IP")

    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    grpc_port = _int(flags.get("port"), DEFAULT_GRPC_PORT)
    if ports.get("grpc") != grpc_port:
        err(f"container port 'grpc' ({ports.get('grpc')}) is not --port ({grpc_port})")
    http_port = _int(flags.get("http_port"), DEFAULT_HTTP_PORT)
    if http_port < 0:
        if "http" in ports:
            err("container port 'http' is open although --http-port is -1")
    elif ports.get("http") != http_port:
        err(f"container port 'http' ({ports.get('http')}) is not --http-port ({http_port})")
    metrics_port = _int(flags.get("metrics_port"))
    if metrics_port is None:
        err("no --metrics-port: Prometheus could not scrape the pod")
    elif ports.get("metrics") != metrics_port:
        err(f"container port 'metrics' ({ports.get('metrics')}) is not --metrics-port ({metrics_port})")

    for probe, service in (("startupProbe", READINESS_SERVICE), ("readinessProbe", READINESS_SERVICE),
                           ("livenessProbe", LIVENESS_SERVICE)):
        spec = c.get(probe)
        if not spec:
            err(f"no {probe}")
            continue
        grpc = spec.get("grpc")
        if not grpc:
            err(f"{probe} is not a gRPC probe (the daemon's health is grpc.health.v1)")
            continue
        if grpc.get("port") != grpc_port:
            err(f"{probe} probes port {grpc.get('port')}, the daemon serves gRPC on {grpc_port}")
        if grpc.get("service") != service:
            err(f"{probe} asks service {grpc.get('service')!r}, expected {service!r}")
    startup = c.get("startupProbe") or {}
    budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    if budget < 60:
        err(f"startupProbe gives model loading {budget}s; at least 60s expected")

    drain = _int(flags.get("drain_timeout"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pre_stop = 0
    command = (c.get("lifecycle", {}).get("preStop", {}).get("exec", {}) or {}).get("command", [])
    if command and re.search(r"(^|/)sleep$", command[0]) and len(command) > 1:
        pre_stop = _int(command[1], 0)
    if drain is None:
        err("no --drain-timeout: SIGTERM would use the daemon's default")
    elif grace <= drain + pre_stop:
        err(f"terminationGracePeriodSeconds {grace} does not cover preStop {pre_stop}s + "
            f"--drain-timeout {drain}s: the kubelet would SIGKILL a drain in progress")

    psc = pod.get("securityContext", {})
    csc = c.get("securityContext", {})
    if not psc.get("runAsNonRoot") and not csc.get("runAsNonRoot"):
        err("runAsNonRoot is not set")
    if (csc.get("runAsUser", psc.get("runAsUser")) or 0) == 0:
        err("runAsUser is root or unset")
    if not csc.get("readOnlyRootFilesystem"):
        err("readOnlyRootFilesystem is not set")
    if csc.get("allowPrivilegeEscalation") is not False:
        err("allowPrivilegeEscalation is not false")
    if "ALL" not in (csc.get("capabilities", {}).get("drop") or []):
        err("capabilities are not dropped (drop: [ALL])")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = c.get("volumeMounts", [])
    for m in mounts:
        if m["name"] not in volumes:
            err(f"volumeMount {m['name']} has no volume")
    if "model" in flags:
        path = flags["model"].rstrip("/")
        covering = [m for m in mounts if path == m["mountPath"].rstrip("/")
                    or path.startswith(m["mountPath"].rstrip("/") + "/")]
        if not covering:
            err(f"--model={flags['model']} is on no mounted volume")
        elif not covering[0].get("readOnly"):
            err(f"the model volume {covering[0]['name']} is mounted read-write")
    if "memory" not in (c.get("resources", {}).get("limits") or {}):
        err("no memory limit")
    notes.extend(f"--{f.replace('_', '-')} is not defined in server/ yet (expected with issue 7)"
                 for f in flags if f in ctx["pending_flags"] and f not in ctx["known_flags"])


def _check_hpa(hpa, dep, ctx, err):
    spec = hpa["spec"]
    ref = spec.get("scaleTargetRef", {})
    if ref.get("kind") != "Deployment" or ref.get("name") != dep["metadata"]["name"]:
        err(f"HPA targets {ref.get('kind')}/{ref.get('name')}, not the inferd Deployment")
    if hpa.get("apiVersion") != "autoscaling/v2":
        err(f"HPA apiVersion {hpa.get('apiVersion')}: autoscaling/v2 expected")
    if not 1 <= spec.get("minReplicas", 1) <= spec.get("maxReplicas", 0):
        err("HPA needs 1 <= minReplicas <= maxReplicas")
    names = [m.get("pods", {}).get("metric", {}).get("name") for m in spec.get("metrics", [])
             if m.get("type") == "Pods"]
    if ctx["hpa_metric"] not in names:
        err(f"HPA does not scale on the Pods metric {ctx['hpa_metric']} that the Prometheus adapter "
            f"serves (has {names})")
