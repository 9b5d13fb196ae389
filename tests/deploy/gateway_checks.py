"""tests/deploy/gateway_checks.py — what must hold in the rendered
deploy/k8s/inference-gateway (InferencePool, HTTPRoute, endpoint picker) for
the Gateway API Inference Extension to route to inferd: the pool selects the
inferd pods of deploy/k8s/base and targets their HTTP API port; its
endpointPickerRef reaches the picker's ext-proc port through a Service; the
HTTPRoute sends to the pool; the picker is started for that pool, with its
configuration mounted, and scrapes the port where inferd serves /metrics;
and the picker's configuration names inferd's queue, running and KV-usage
families as deploy/metrics.txt has them (gauges; the cache-info labels)."""

import re

POOL_API = "inference.networking.k8s.io/v1"
POOL_GROUP = "inference.networking.k8s.io"
ROUTE_API = "gateway.networking.k8s.io/v1"
EPP_CONFIG_API = "inference.networking.x-k8s.io/v1alpha1"
# Flags the picker (v1.5.0) refuses: metric names come from engineConfigs.
REFUSED_EPP_FLAGS = ("total-queued-requests-metric", "total-running-requests-metric",
                     "kv-cache-usage-percentage-metric", "lora-info-metric", "cache-info-metric")
DEFAULT_ENGINE_LABEL = "inference.networking.k8s.io/engine-type"
DEFAULT_HTTP_PORT = 8000


def _by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def _subset(small, big):
    return bool(small) and all(big.get(k) == v for k, v in small.items())


def _flags(args):
    flags = {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value
    return flags


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _inferd_pod(base_docs):
    """(pod labels, container ports by name, flags) of the inferd container."""
    [dep] = [d for d in _by_kind(base_docs, "Deployment") if d["metadata"]["name"] == "inferd"]
    template = dep["spec"]["template"]
    [container] = [c for c in template["spec"]["containers"] if c["name"] == "inferd"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    return template["metadata"].get("labels", {}), ports, _flags(container.get("args", []))


def check(docs, base_docs, catalog, load_yaml):
    """Errors (strings) of the rendered inference-gateway kustomization
    `docs`, against the rendered base `base_docs` and the metric catalog.
    load_yaml parses a string (the picker's configuration file)."""
    errors = []
    err = errors.append
    pod_labels, inferd_ports, inferd_flags = _inferd_pod(base_docs)
    http_port = _int(inferd_flags.get("http-port"), DEFAULT_HTTP_PORT)
    metrics_port = _int(inferd_flags.get("metrics-port"))

    pools = _by_kind(docs, "InferencePool")
    if len(pools) != 1:
        err(f"expected one InferencePool, found {len(pools)}")
        return errors
    pool = pools[0]
    name = pool["metadata"]["name"]
    spec = pool.get("spec", {})
    if pool.get("apiVersion") != POOL_API:
        err(f"InferencePool apiVersion {pool.get('apiVersion')}: {POOL_API} expected")
    selector = spec.get("selector", {}).get("matchLabels")
    if not _subset(selector, pod_labels):
        err(f"InferencePool selector {selector} does not select the inferd pods ({pod_labels})")
    ports = [p.get("number") for p in spec.get("targetPorts", [])]
    if not 1 <= len(ports) <= 8 or len(set(ports)) != len(ports):
        err(f"InferencePool targetPorts {ports}: 1 to 8 distinct ports expected")
    elif http_port < 0:
        err("the pool routes HTTP, but the inferd Deployment passes --http-port=-1")
    elif ports != [http_port] or inferd_ports.get("http") != http_port:
        err(f"InferencePool targetPorts {ports} is not inferd's HTTP API port "
            f"(--http-port {http_port}, container port http {inferd_ports.get('http')})")
    if spec.get("appProtocol", "http") != "http":
        err(f"InferencePool appProtocol {spec.get('appProtocol')}: inferd's HTTP API is "
            "HTTP/1.1 (http)")

    # The endpoint picker: its Service, Deployment and configuration.
    ref = spec.get("endpointPickerRef") or {}
    if ref.get("failureMode", "FailClose") not in ("FailOpen", "FailClose"):
        err(f"endpointPickerRef failureMode {ref.get('failureMode')}")
    if ref.get("kind", "Service") != "Service" or ref.get("group", "") != "":
        err("endpointPickerRef must name a core Service")
    services = {s["metadata"]["name"]: s for s in _by_kind(docs, "Service")}
    epp_service = services.get(ref.get("name"))
    if epp_service is None:
        err(f"endpointPickerRef names Service {ref.get('name')}, which is not here")
        return errors
    ref_port = (ref.get("port") or {}).get("number")
    service_ports = {p["port"]: p for p in epp_service["spec"].get("ports", [])}
    if ref_port not in service_ports:
        err(f"endpointPickerRef port {ref_port} is not a port of Service {ref.get('name')}")
    epp_deps = [d for d in _by_kind(docs, "Deployment")
                if _subset(epp_service["spec"].get("selector"),
                           d["spec"]["template"]["metadata"].get("labels", {}))]
    if len(epp_deps) != 1:
        err(f"Service {ref.get('name')} selects {len(epp_deps)} Deployments, one expected")
        return errors
    epp = epp_deps[0]
    epp_pod = epp["spec"]["template"]
    if _subset(selector, epp_pod["metadata"].get("labels", {})):
        err("the InferencePool selector also selects the endpoint picker's pods")
    [container] = epp_pod["spec"]["containers"][:1] or [{}]
    flags = _flags(container.get("args", []))
    container_ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ref_port in service_ports:
        target = service_ports[ref_port].get("targetPort", ref_port)
        target = container_ports.get(target, target) if isinstance(target, str) else target
        grpc_port = _int(flags.get("grpc-port"), 9002)
        if target != grpc_port:
            err(f"Service {ref.get('name')} port {ref_port} reaches container port {target}, "
                f"the picker's ext-proc --grpc-port is {grpc_port}")
    if flags.get("pool-name") != name:
        err(f"the picker's --pool-name {flags.get('pool-name')} is not the pool {name}")
    if flags.get("pool-group", POOL_GROUP) != POOL_GROUP:
        err(f"the picker's --pool-group {flags.get('pool-group')}: {POOL_GROUP} expected")
    for flag in REFUSED_EPP_FLAGS:
        if flag in flags:
            err(f"the picker refuses --{flag}: name metrics in the config's engineConfigs")
    # It scrapes /metrics on --model-server-metrics-port, else the first target port.
    scraped = _int(flags.get("model-server-metrics-port"), ports[0] if ports else None)
    if scraped != metrics_port:
        err(f"the picker scrapes port {scraped}, inferd serves /metrics on --metrics-port "
            f"{metrics_port} (pass --model-server-metrics-port)")

    config_text = _mounted_file(epp_pod, container, flags.get("config-file", ""), docs, err)
    if config_text is not None:
        _check_epp_config(load_yaml(config_text), catalog, pod_labels, err)

    routes = _by_kind(docs, "HTTPRoute")
    if not routes:
        err("no HTTPRoute sends requests to the pool")
    for route in routes:
        if route.get("apiVersion") != ROUTE_API:
            err(f"HTTPRoute apiVersion {route.get('apiVersion')}: {ROUTE_API} expected")
        if not route["spec"].get("parentRefs"):
            err(f"HTTPRoute {route['metadata']['name']} has no parentRefs (no Gateway)")
        refs = [b for r in route["spec"].get("rules", []) for b in r.get("backendRefs", [])]
        if not refs:
            err(f"HTTPRoute {route['metadata']['name']} has no backendRefs")
        for b in refs:
            if (b.get("kind"), b.get("group"), b.get("name")) != ("InferencePool", POOL_GROUP, name):
                err(f"HTTPRoute backendRef {b}: the InferencePool {name} of {POOL_GROUP} expected")
            if "port" in b:
                err("an InferencePool backendRef takes no port (the pool's targetPorts say it)")
    return errors


def _mounted_file(pod, container, path, docs, err):
    """The text of `path` in `container`, from the ConfigMap mounted there."""
    if not path:
        err("the picker has no --config-file")
        return None
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        config_map = volumes.get(mount["name"], {}).get("configMap", {}).get("name")
        maps = {m["metadata"]["name"]: m for m in _by_kind(docs, "ConfigMap")}
        if config_map not in maps:
            err(f"--config-file {path}: its volume is not a ConfigMap here ({config_map})")
            return None
        key = path[len(prefix):]
        data = maps[config_map].get("data", {})
        if key not in data:
            err(f"--config-file {path}: ConfigMap {config_map} has no key {key} (has {list(data)})")
            return None
        return data[key]
    err(f"--config-file {path} is on no mounted volume")
    return None


def _check_epp_config(config, catalog, pod_labels, err):
    if (config or {}).get("apiVersion") != EPP_CONFIG_API or config.get("kind") != "EndpointPickerConfig":
        err(f"the picker's configuration is not an EndpointPickerConfig of {EPP_CONFIG_API}")
        return
    plugins = {}
    for p in config.get("plugins", []):
        plugin_name = p.get("name", p.get("type"))
        if plugin_name in plugins:
            err(f"EPP config: plugin {plugin_name} defined twice")
        plugins[plugin_name] = p
    refs = [r.get("pluginRef") for prof in config.get("schedulingProfiles", [])
            for r in prof.get("plugins", [])]
    for source in (config.get("data") or {}).get("sources", []):
        refs.append(source.get("pluginRef"))
        refs.extend(e.get("pluginRef") for e in source.get("extractors", []))
    for r in refs:
        if r not in plugins:
            err(f"EPP config: pluginRef {r} names no plugin")
    types = {p.get("type") for p in plugins.values()}
    profile_types = {plugins[r].get("type") for r in refs if r in plugins}
    for scorer in ("queue-scorer", "kv-cache-utilization-scorer"):
        if scorer not in profile_types:
            err(f"EPP config: no scheduling profile uses the {scorer}")
    for p in plugins.values():
        if p.get("type") == "metrics-data-source":
            path = (p.get("parameters") or {}).get("path", "/metrics")
            if path != "/metrics":
                err(f"EPP config: metrics-data-source path {path}; inferd serves /metrics")
    extractors = [p for p in plugins.values() if p.get("type") == "core-metrics-extractor"]
    if "metrics-data-source" not in types or not extractors:
        err("EPP config: no metrics-data-source with a core-metrics-extractor")
        return
    params = extractors[0].get("parameters") or {}
    engines = {e.get("name"): e for e in params.get("engineConfigs", [])}
    label = params.get("engineLabelKey", DEFAULT_ENGINE_LABEL)
    engine = pod_labels.get(label, params.get("defaultEngine", "vllm"))
    if engine not in engines:
        err(f"EPP config: the inferd pods get engine {engine!r}, which engineConfigs does not "
            "define (the built-in ones read vllm:/sglang: names inferd does not export)")
        return
    spec = engines[engine]
    for field in ("queuedRequestsSpec", "runningRequestsSpec", "kvUsageSpec"):
        family = _family(spec.get(field), catalog, field, err)
        if family is not None and family.type != "gauge":
            err(f"EPP config: {field} {family.name} is a {family.type}, a gauge expected")
    if spec.get("loraSpec", None) != "":
        err('EPP config: loraSpec must be "" (inferd has no LoRA metric)')
    if spec.get("cacheInfoSpec"):
        family = _family(spec["cacheInfoSpec"], catalog, "cacheInfoSpec", err)
        for field, default in (("cacheBlockSizeLabelName", "block_size"),
                               ("cacheNumBlocksLabelName", "num_gpu_blocks")):
            wanted = spec.get(field) or default
            if family is not None and wanted not in family.labels:
                err(f"EPP config: {field} {wanted} is not a label of {family.name} "
                    f"({', '.join(family.labels)})")


def _family(selector, catalog, field, err):
    """The catalog family of a picker metric spec (`family{label=value}`)."""
    match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?", selector or "")
    if not match:
        err(f"EPP config: {field} {selector!r} is not a metric selector")
        return None
    family = catalog.families.get(match.group(1))
    if family is None:
        err(f"EPP config: {field} {match.group(1)} is not in deploy/metrics.txt")
    return family
