#!/usr/bin/env python3
"""Checks the Nextflow modules in cluster/nextflow without Nextflow, by doing what Nextflow would
do with them, as far as that can be done here.

    check_modules.py IMAGES_DIR

Needs `samcell` on PATH and PyYAML. For SAMCELL_SEGMENT and SAMCELL_SUMMARIZE (modules/samcell/):
1. the nf-core parts: tag, label, container, `tuple val(meta), path(...)` input, a `versions`
   output of versions.yml, `when:` on task.ext.when, task.ext.args (and task.ext.prefix) in the
   script, a stub, no publishDir; meta.yml names the same inputs and outputs;
2. the script block rendered as Nextflow renders it (the Groovy definitions before it evaluated,
   the GString interpolated, the indentation stripped) for 2 shards and run with bash in task
   folders whose inputs are staged as symbolic links: every declared output that is not optional
   exists, the shards' masks are one per image, ext.args reaches samcell, versions.yml names
   samcell's version, and summarize over the shards' results exits 0;
3. the stub block, rendered and run the same way, creates every declared output, for the same
   images per shard as the script block (so that the shards' files do not collide);
4. the example workflow (main.nf) includes both modules.
Nextflow itself is not run: the Groovy evaluated here is the small subset the modules use.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
NF = HERE.parent
MODULES = NF / "modules" / "samcell"
SHARDS = 2
ARGS = "--save-geojson"  # ext.args given to the segment tasks: must reach samcell


class CheckError(Exception):
    pass


# --- a small evaluator for the Groovy expressions the modules use ----------------------------

TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<num>\d+)|"""
                   r"""(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)|(?P<op>\?:|==|!=|\|\||&&|[?:()]))""")


def lookup(name, ctx):
    head, *rest = name.split(".")
    if head == "null":
        return None
    if head not in ctx:
        raise CheckError(f"unknown name {head!r} in {name!r}")
    value = ctx[head]
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def truthy(v):
    return v not in (None, False, 0, "", [], {})


def to_text(v):
    return "null" if v is None else str(v)


def evaluate(expr, ctx):
    tokens = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise CheckError(f"cannot read Groovy expression {expr!r} at {expr[pos:]!r}")
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    tokens.append(("end", ""))
    i = 0

    def peek():
        return tokens[i]

    def take():
        nonlocal i
        i += 1
        return tokens[i - 1]

    def primary():
        kind, text = take()
        if kind == "str":
            body = text[1:-1]
            return interpolate(body, ctx) if text[0] == '"' else body.replace("\\'", "'")
        if kind == "num":
            return int(text)
        if kind == "name":
            return lookup(text, ctx)
        if text == "(":
            v = cond()
            if take()[1] != ")":
                raise CheckError(f"missing ) in {expr!r}")
            return v
        raise CheckError(f"unexpected {text!r} in {expr!r}")

    def comparison():
        left = primary()
        while peek()[1] in ("==", "!="):
            op = take()[1]
            right = primary()
            left = (left == right) if op == "==" else (left != right)
        return left

    def logic():
        left = comparison()
        while peek()[1] in ("||", "&&"):
            op = take()[1]
            right = comparison()
            left = (truthy(left) or truthy(right)) if op == "||" else (truthy(left) and truthy(right))
        return left

    def cond():
        left = logic()
        if peek()[1] == "?:":
            take()
            right = cond()
            return left if truthy(left) else right
        if peek()[1] == "?":
            take()
            a = cond()
            if take()[1] != ":":
                raise CheckError(f"missing : in {expr!r}")
            b = cond()
            return a if truthy(left) else b
        return left

    value = cond()
    if peek()[0] != "end":
        raise CheckError(f"unread rest {peek()[1]!r} of {expr!r}")
    return value


def interpolate(body, ctx):
    """A Groovy GString's value: \\$ and \\\\ escapes, ${expr} and $name.name interpolation."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"$": "$", "\\": "\\", '"': '"', "n": "\n", "t": "\t"}.get(nxt, "\\" + nxt))
            i += 2
        elif body.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(body):
                    raise CheckError(f"unclosed ${{ in {body[i:i + 40]!r}")
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                j += 1
            out.append(to_text(evaluate(body[i + 2:j - 1], ctx)))
            i = j
        elif c == "$":
            m = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*").match(body, i + 1)
            if not m:
                raise CheckError(f"a lone $ in a GString (escape it as \\$): {body[i:i + 40]!r}")
            out.append(to_text(lookup(m.group(0), ctx)))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --- the module's parts ------------------------------------------------------------------------

class Module:
    def __init__(self, path: Path):
        self.path = path
        text = path.read_text()
        m = re.search(r"^process\s+(\w+)\s*\{\n(.*)^\}\s*$", text, re.S | re.M)
        if not m:
            raise CheckError(f"{path}: no process block")
        self.name = m.group(1)
        self.sections = {"directives": []}
        current = "directives"
        for line in m.group(2).splitlines():
            s = re.fullmatch(r"    (input|output|when|script|stub):\s*", line)
            if s:
                current = s.group(1)
                self.sections[current] = []
            else:
                self.sections[current].append(line)
        for part in ("input", "output", "when", "script", "stub"):
            if part not in self.sections:
                raise CheckError(f"{path}: no {part}: block")

    def code(self, section):
        return [ln.strip() for ln in self.sections[section]
                if ln.strip() and not ln.strip().startswith("//")]

    def inputs(self):
        """[(declaration, [names])] of the input block."""
        out = []
        for ln in self.code("input"):
            names = re.findall(r"(?:val|path)\((\w+)", ln)
            out.append((ln, names))
        return out

    def outputs(self):
        """[(emit, pattern, optional)] of the output block."""
        out = []
        for ln in self.code("output"):
            emit = re.search(r"emit:\s*(\w+)", ln)
            pat = re.search(r"path\s*\(?\s*\"([^\"]+)\"", ln)
            if not emit or not pat:
                raise CheckError(f"{self.path}: output without path or emit: {ln}")
            out.append((emit.group(1), pat.group(1), "optional: true" in ln))
        return out

    def render(self, section, ctx):
        """The shell script of `script:` or `stub:` for this context (which gets the
        definitions, as Nextflow's task context does)."""
        lines = self.sections[section]
        text = "\n".join(lines)
        start = text.find('"""')
        end = text.rfind('"""')
        if start < 0 or end <= start:
            raise CheckError(f"{self.path}: {section}: no triple-quoted script")
        for ln in text[:start].splitlines():
            ln = ln.strip()
            if not ln or ln.startswith("//"):
                continue
            d = re.fullmatch(r"(?:def\s+)?(\w+)\s*=\s*(.+)", ln)
            if not d:
                raise CheckError(f"{self.path}: {section}: cannot read {ln!r}")
            ctx[d.group(1)] = evaluate(d.group(2), ctx)
        body = interpolate(text[start + 3:end], ctx)
        return textwrap.dedent(body).strip("\n") + "\n"


def nf_core_parts(mod: Module, script_text: str):
    problems = []
    directives = "\n".join(mod.code("directives"))
    for d in ("tag", "label", "container"):
        if not re.search(rf"^{d}\s", directives, re.M):
            problems.append(f"no {d} directive")
    if "publishDir" in mod.path.read_text():
        problems.append("a publishDir in the module (nf-core leaves it to the configuration)")
    if not any(ln.startswith("tuple val(meta), path(") for ln, _ in mod.inputs()):
        problems.append("no `tuple val(meta), path(...)` input")
    outputs = mod.outputs()
    if ("versions", "versions.yml", False) not in outputs:
        problems.append('no `path "versions.yml", emit: versions` output')
    for emit, pattern, _ in outputs:
        if emit != "versions" and not re.search(rf'tuple val\(meta\), path\("{re.escape(pattern)}"\)',
                                                "\n".join(mod.code("output"))):
            problems.append(f"output {emit} is not a tuple of meta and its files")
    if mod.code("when") != ["task.ext.when == null || task.ext.when"]:
        problems.append("when: is not `task.ext.when == null || task.ext.when`")
    if "task.ext.args" not in script_text:
        problems.append("the script does not use task.ext.args")
    if "versions.yml" not in "\n".join(mod.sections["stub"]):
        problems.append("the stub does not write versions.yml")
    return problems


def meta_yml_parts(mod: Module):
    problems = []
    meta = yaml.safe_load((mod.path.parent / "meta.yml").read_text())
    if meta.get("name") != mod.name.lower():
        problems.append(f"meta.yml name {meta.get('name')!r} is not {mod.name.lower()!r}")
    if not meta.get("tools") or "samcell" not in meta["tools"][0]:
        problems.append("meta.yml does not name the tool samcell")
    declared = [names for _, names in mod.inputs()]
    described = [[next(iter(item)) for item in channel] for channel in meta.get("input", [])]
    if declared != described:
        problems.append(f"meta.yml inputs {described} are not main.nf's {declared}")
    for emit, pattern, _ in mod.outputs():
        entry = next((o[emit] for o in meta.get("output", []) if emit in o), None)
        if entry is None:
            problems.append(f"meta.yml does not describe output {emit}")
        elif pattern not in [next(iter(item)) for item in entry]:
            problems.append(f"meta.yml output {emit} does not name {pattern}")
    return problems


def stage(task_dir: Path, folder: str, files):
    """Nextflow's staging of `path(x, stageAs: 'folder/*')`: symbolic links by file name."""
    (task_dir / folder).mkdir(parents=True, exist_ok=True)
    for f in files:
        link = task_dir / folder / Path(f).name
        if link.exists():
            raise CheckError(f"two staged files named {link.name}")
        link.symlink_to(Path(f).resolve())


def run_task(mod: Module, section: str, task_dir: Path, ctx, expect_ok=True):
    script = mod.render(section, ctx)
    (task_dir / ".command.sh").write_text(script)
    proc = subprocess.run(["bash", "-euo", "pipefail", ".command.sh"], cwd=task_dir,
                          capture_output=True, text=True)
    (task_dir / ".command.log").write_text(proc.stdout + proc.stderr)
    if expect_ok and proc.returncode != 0:
        raise CheckError(f"{mod.name} {section} exited {proc.returncode} in {task_dir}:\n"
                         f"{script}\n--- output\n{proc.stdout}{proc.stderr}")
    found = {}
    for emit, pattern, optional in mod.outputs():
        p = interpolate(pattern, ctx)
        matches = sorted(f for f in glob.glob(str(task_dir / p)) if Path(f).is_file())
        if not matches and not (optional and section == "script"):
            raise CheckError(f"{mod.name} {section}: declared output {emit} ({p}) was not created "
                             f"in {task_dir}")
        found[emit] = matches
    return found


def check_versions(mod: Module, task_dir: Path, version: str):
    v = yaml.safe_load((task_dir / "versions.yml").read_text())
    if v != {mod.name: {"samcell": version}}:
        raise CheckError(f"{mod.name}: versions.yml is {v!r}, not {{{mod.name!r}: {{'samcell': {version!r}}}}}")


def task_ctx(process, meta, ext):
    return {"meta": meta, "task": {"ext": ext, "cpus": 1, "process": process},
            "workflow": {"containerEngine": None}}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    images = sorted(str(p) for p in Path(sys.argv[1]).iterdir() if p.is_file())
    if shutil.which("samcell") is None:
        raise CheckError("samcell is not on PATH")
    version = subprocess.run(["samcell", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip().removeprefix("samcell ")
    seg = Module(MODULES / "segment" / "main.nf")
    summ = Module(MODULES / "summarize" / "main.nf")
    if (seg.name, summ.name) != ("SAMCELL_SEGMENT", "SAMCELL_SUMMARIZE"):
        raise CheckError(f"process names {seg.name}, {summ.name}")
    problems = []
    for mod in (seg, summ):
        script_text = "\n".join(mod.sections["script"])
        problems += [f"{mod.name}: {p}" for p in nf_core_parts(mod, script_text) + meta_yml_parts(mod)]
    if "task.ext.prefix" not in "\n".join(seg.sections["script"]):
        problems.append("SAMCELL_SEGMENT: the script does not use task.ext.prefix")
    workflow = (NF / "main.nf").read_text()
    for mod, rel in ((seg, "segment"), (summ, "summarize")):
        if not re.search(rf"include\s*\{{\s*{mod.name}\s*\}}\s*from\s*'\./modules/samcell/{rel}/main'", workflow):
            problems.append(f"main.nf does not include {mod.name} from ./modules/samcell/{rel}/main")
        if f"{mod.name}(" not in workflow:
            problems.append(f"main.nf does not call {mod.name}")
    if problems:
        raise CheckError("nf-core parts:\n  " + "\n  ".join(problems))
    print(f"nf-core parts of {seg.name} and {summ.name} and their meta.yml: present")

    masks = {}
    with tempfile.TemporaryDirectory(prefix="samcell-nf-") as tmp:
        work = Path(tmp)
        for section in ("script", "stub"):
            results = []
            for i in range(SHARDS):
                task = work / f"{section}-segment-{i}"
                meta = {"id": f"batch_shard{i}", "shard": i, "shards": SHARDS}
                ctx = task_ctx(seg.name, meta, {"args": ARGS})
                stage(task, "images", images)
                found = run_task(seg, section, task, ctx)
                check_versions(seg, task, version)
                if section == "script" and not glob.glob(str(task / meta["id"] / "*.geojson")) \
                        and found["masks"]:
                    raise CheckError(f"ext.args {ARGS} did not reach samcell segment in {task}")
                masks[section, i] = sorted(Path(f).name for f in found["masks"])
                results += found["results"]
            if section == "stub":
                for i in range(SHARDS):
                    if masks["stub", i] != masks["script", i]:
                        raise CheckError(f"the stub of shard {i} made masks {masks['stub', i]}, "
                                         f"the script {masks['script', i]}")
            elif sorted(sum((masks["script", i] for i in range(SHARDS)), [])) != \
                    sorted(f"{Path(f).stem}_masks.tif" for f in images):
                raise CheckError(f"the shards' masks {masks} are not one per image")
            task = work / f"{section}-summarize"
            stage(task, "results", results)
            stage(task, "images", images)
            run_task(summ, section, task, task_ctx(summ.name, {"id": "batch"}, {}))
            check_versions(summ, task, version)
            if section == "script":
                print(f"script blocks: {SHARDS} segment shards (ext.args {ARGS}) and summarize "
                      f"ran with samcell {version}; every declared output exists; summarize exit 0")
            else:
                print("stub blocks: every declared output exists, each shard's for the images "
                      "its script block segmented")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
