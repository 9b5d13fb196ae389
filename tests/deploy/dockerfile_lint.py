"""tests/deploy/dockerfile_lint.py — checks of deploy/Dockerfile that need no
Docker (hadolint is not packaged in Debian): images pinned by tag, a CUDA
devel -> runtime pair, COPY sources that exist in the build context, a
non-root numeric USER, exec-form ENTRYPOINT (inferd is PID 1 and gets
SIGTERM), apt-get hygiene, and flags/ports that agree with the daemon and
the Kubernetes base."""

import dataclasses
import fnmatch
import glob
import json
import os
import re
import shlex

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclasses.dataclass
class Instruction:
    keyword: str  # upper case
    args: str
    lineno: int


@dataclasses.dataclass
class Stage:
    image: str  # after ARG substitution
    name: str
    instructions: list


def parse(text):
    """Instructions with continuation lines joined and comments dropped."""
    instructions = []
    current, start = None, 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (current is None and not stripped):
            continue
        if current is None:
            current, start = "", lineno
        cont = stripped.endswith("\\")
        current += (stripped[:-1] if cont else stripped) + " "
        if not cont:
            keyword, _, args = current.strip().partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip(), start))
            current = None
    if current is not None:
        instructions.append(Instruction("<unterminated>", current, start))
    return instructions


def substitute(text, variables):
    def repl(m):
        name = m.group(1) or m.group(3)
        if name in variables:
            return variables[name]
        return m.group(2) if m.group(2) is not None else m.group(0)
    return _VAR_RE.sub(repl, text)


def _arg_default(args):
    name, _, value = args.partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name.strip(), value


def stages_of(instructions, errors):
    global_args = {}
    stages = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--platform")]
            image = substitute(words[0], global_args) if words else ""
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else ""
            stages.append(Stage(image, name, []))
        elif not stages:
            if ins.keyword == "ARG":
                k, v = _arg_default(ins.args)
                global_args[k] = v
            else:
                errors.append(f"line {ins.lineno}: {ins.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(ins)
    return stages


def _exec_form(ins, errors):
    try:
        value = json.loads(ins.args)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"line {ins.lineno}: {ins.keyword} must be in exec form "
                      "(a JSON array), so that inferd is PID 1 and receives SIGTERM")
        return None
    return value


def _ignored(path, patterns):
    path = path[2:] if path.startswith("./") else path
    first = path.split("/")[0]
    return any(fnmatch.fnmatch(first, p) or fnmatch.fnmatch(path.rstrip("/"), p) for p in patterns)


def lint(dockerfile, repo, known_flags, pending_flags, expected_ports):
    """(errors, notes). known_flags: absl flag names of server/ (underscores);
    pending_flags: flags the deploy files use before the daemon has them;
    expected_ports: {'grpc': N, 'http': H, 'metrics': M} from the Kubernetes base."""
    errors, notes = [], []
    with open(dockerfile, encoding="utf-8") as f:
        text = f.read()
    instructions = parse(text)
    stages = stages_of(instructions, errors)
    if len(stages) < 2:
        errors.append("a multi-stage build is expected (build on devel, run on runtime)")
        return errors, notes
    ignore_file = dockerfile + ".dockerignore"
    patterns = []
    if os.path.exists(ignore_file):
        with open(ignore_file, encoding="utf-8") as f:
            patterns = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    else:
        errors.append(f"{os.path.relpath(ignore_file, repo)} is missing: build trees would enter the context")

    names = []
    for idx, st in enumerate(stages):
        where = f"stage {idx} ({st.name or 'unnamed'})"
        if "$" in st.image:
            errors.append(f"{where}: image {st.image} has an undefined ARG")
        tag_part = st.image.rsplit("/", 1)[-1]
        if "@sha256:" not in st.image and ":" not in tag_part:
            errors.append(f"{where}: image {st.image} is not pinned by a tag")
        elif tag_part.endswith(":latest"):
            errors.append(f"{where}: image {st.image} uses the moving tag 'latest'")
        if not st.name:
            errors.append(f"{where}: name every stage (FROM image AS name)")
        for ins in st.instructions:
            if ins.keyword == "ADD":
                errors.append(f"line {ins.lineno}: use COPY, not ADD")
            if ins.keyword == "COPY":
                words = [w for w in shlex.split(ins.args) if not w.startswith("--chmod")
                         and not w.startswith("--chown") and not w.startswith("--link")]
                from_ = [w for w in words if w.startswith("--from=")]
                words = [w for w in words if not w.startswith("--")]
                if from_:
                    ref = from_[0].split("=", 1)[1]
                    if ref not in names:
                        errors.append(f"line {ins.lineno}: COPY --from={ref} names no earlier stage")
                    continue
                for src in words[:-1]:
                    if src in (".", "./"):
                        continue
                    if not glob.glob(os.path.join(repo, src)):
                        errors.append(f"line {ins.lineno}: COPY source {src} is not in the repository")
                    elif _ignored(src, patterns):
                        errors.append(f"line {ins.lineno}: COPY source {src} is excluded by the .dockerignore")
            if ins.keyword == "RUN":
                _lint_run(ins, repo, errors)
        names.append(st.name)

    build, runtime = stages[0], stages[-1]
    m_build = re.match(r"^nvidia/cuda:(.+)-devel-(.+)$", build.image)
    m_run = re.match(r"^nvidia/cuda:(.+)-runtime-(.+)$", runtime.image)
    if not m_build or not m_run:
        errors.append(f"expected an nvidia/cuda devel -> runtime pair, got {build.image} -> {runtime.image}")
    elif m_build.groups() != m_run.groups():
        errors.append(f"CUDA version or distribution differ: {build.image} vs {runtime.image}")

    users = [i for i in runtime.instructions if i.keyword == "USER"]
    if not users:
        errors.append("the runtime stage has no USER: the image would run as root")
    else:
        user = users[-1].args.split(":")[0]
        if not user.isdigit():
            errors.append(f"USER {users[-1].args}: use a numeric uid, so that Kubernetes "
                          "runAsNonRoot can verify it")
        elif int(user) == 0:
            errors.append("USER is root")

    entry = [i for i in runtime.instructions if i.keyword == "ENTRYPOINT"]
    cmd = [i for i in runtime.instructions if i.keyword == "CMD"]
    argv = []
    if not entry:
        errors.append("the runtime stage has no ENTRYPOINT")
    else:
        argv = _exec_form(entry[-1], errors) or []
        if argv[:1] and not argv[0].startswith("/"):
            errors.append(f"ENTRYPOINT {argv[0]}: give the absolute path")
        if "serve" not in argv:
            errors.append("ENTRYPOINT does not run 'inferd serve'")
    if cmd:
        argv = argv + (_exec_form(cmd[-1], errors) or [])
    flags = {}
    for arg in argv[2:]:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name.replace("-", "_")] = value
    for name in flags:
        if name not in known_flags and name not in pending_flags:
            errors.append(f"ENTRYPOINT/CMD flag --{name.replace('_', '-')} is not an inferd serve flag")
        elif name not in known_flags:
            notes.append(f"--{name.replace('_', '-')} is not defined in server/ yet (expected with issue 7)")
    exposed = set()
    for ins in runtime.instructions:
        if ins.keyword == "EXPOSE":
            exposed.update(int(p.split("/")[0]) for p in ins.args.split())
    for what, port in expected_ports.items():
        if port not in exposed:
            errors.append(f"EXPOSE lacks the {what} port {port} of the Kubernetes base")
    if flags.get("port") and int(flags["port"]) != expected_ports.get("grpc"):
        errors.append(f"CMD --port={flags['port']} differs from the Kubernetes grpc port")
    if flags.get("metrics_port") and int(flags["metrics_port"]) != expected_ports.get("metrics"):
        errors.append(f"CMD --metrics-port={flags['metrics_port']} differs from the Kubernetes metrics port")
    if flags.get("http_port") and int(flags["http_port"]) != expected_ports.get("http"):
        errors.append(f"CMD --http-port={flags['http_port']} differs from the Kubernetes http port")
    if flags.get("host") not in ("0.0.0.0", "::", "[::]"):
        errors.append("CMD must listen on all addresses (--host=0.0.0.0): published ports and probes "
                      "reach the container from outside")
    return errors, notes


def _lint_run(ins, repo, errors):
    cmd = ins.args
    if "apt-get install" in cmd:
        if "--no-install-recommends" not in cmd:
            errors.append(f"line {ins.lineno}: apt-get install without --no-install-recommends")
        if not re.search(r"apt-get install[^&|;]*\s-y\b", cmd):
            errors.append(f"line {ins.lineno}: apt-get install without -y")
        if "apt-get update" not in cmd:
            errors.append(f"line {ins.lineno}: apt-get install without apt-get update in the same RUN "
                          "(a cached layer would install from stale lists)")
        if "rm -rf /var/lib/apt/lists" not in cmd:
            errors.append(f"line {ins.lineno}: apt lists are not removed (rm -rf /var/lib/apt/lists/*)")
    # Repository paths a build step uses (models/..., scripts/..., deploy/...).
    top = {d for d in os.listdir(repo) if os.path.isdir(os.path.join(repo, d)) and not d.startswith(".")}
    for word in re.findall(r"(?<![\w/.-])([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)", cmd):
        if word.split("/")[0] in top and not word.startswith("build"):
            if not os.path.exists(os.path.join(repo, word)):
                errors.append(f"line {ins.lineno}: {word} is not in the repository")
    for option in re.findall(r"-D(INFERD_[A-Z0-9_]+)=", cmd):
        if not _cmake_defines(repo, option):
            errors.append(f"line {ins.lineno}: -D{option} is not an option of the CMake build")


def _cmake_defines(repo, option):
    files = [os.path.join(repo, "CMakeLists.txt")] + glob.glob(os.path.join(repo, "cmake", "*.cmake"))
    pattern = re.compile(r"(option|set)\s*\(\s*" + re.escape(option) + r"\b")
    for path in files:
        with open(path, encoding="utf-8") as f:
            if pattern.search(f.read()):
                return True
    return False


def setup_packages_command(dockerfile):
    """The shell that the build stage evaluates to read scripts/setup.sh's
    package list, e.g. sed -n '/^packages=(/,/^)/p' scripts/setup.sh."""
    with open(dockerfile, encoding="utf-8") as f:
        m = re.search(r'eval "\$\((sed [^)]*\)[^)]*)\)"', f.read())
    return m.group(1) if m else None
