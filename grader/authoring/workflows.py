"""The student template's GitHub workflow, made from the catalogue, and the checks a schema cannot make.

GitHub Classroom reads scores only from a workflow named `Autograding Tests` with
one job named `run-autograding-tests`; each assignment's visible tests are one
`autograding-command-grader` step, and `autograding-grading-reporter` adds them up.
Those actions pass only PATH and HOME to the command, so MEMCACHED_SERVERS is
written into the command itself. A grader step that times out scores 0 and lets the
job go on, so the graders' limits add up to less than the job's: one hanging
assignment costs its own points, never the whole score.
"""
from __future__ import annotations

import re
from typing import Iterable

import yaml

from grader.course import Assignment

COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
MEMCACHED_IMAGE = "memcached:1.6"
MEMCACHED_PORTS = (11211, 11212, 11213)  # three servers: enough to shard over
PREVIEW_POINTS = 10  # per assignment whose visible tests all pass
GRADER_MINUTES = 5  # per assignment's visible tests
JOB_MINUTES = 30
SETUP_MARGIN = 5  # minutes for checking out, apt-get and pip, before the first grader step
# Node 24 majors (the Node 20 ones, v4/v5, are forced onto Node 24 with a deprecation warning).
CURRENT = {"actions/checkout": "v5", "actions/setup-python": "v6",
           "actions/upload-artifact": "v6", "actions/download-artifact": "v7"}


def action(name: str) -> str:
    return f"{name}@{CURRENT[name]}"


def servers_spec(ports: Iterable[int] = MEMCACHED_PORTS) -> str:
    return ",".join(f"127.0.0.1:{port}" for port in ports)


def memcached_services(ports: Iterable[int] = MEMCACHED_PORTS) -> dict:
    return {f"memcached-{i}": {"image": MEMCACHED_IMAGE, "ports": [f"{port}:11211"]}
            for i, port in enumerate(ports, start=1)}


def step_id(assignment: Assignment) -> str:
    """'01-cache-aside' -> 'cache-aside': a step id must not start with a digit."""
    return re.sub(r"^\d+-", "", assignment.id)


def student_workflow(assignments: list[Assignment]) -> dict:
    graders = [{
        "name": f"{a.id} (visible tests)",
        "id": step_id(a),
        "uses": COMMAND_GRADER,
        "with": {
            "test-name": a.id,
            "command": f"env MEMCACHED_SERVERS={servers_spec()} python -m pytest -q assignments/{a.id}",
            "timeout": GRADER_MINUTES,
            "max-score": PREVIEW_POINTS,
        },
    } for a in assignments]
    ids = [step["id"] for step in graders]
    reporter = {
        "name": "Autograding Reporter",
        "uses": REPORTER,
        "env": {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids},
        "with": {"runners": ",".join(ids)},
    }
    return {
        "name": "Autograding Tests",
        "on": ["push", "repository_dispatch", "workflow_dispatch"],
        "permissions": {"checks": "write", "actions": "read", "contents": "read"},
        "jobs": {"run-autograding-tests": {
            "runs-on": "ubuntu-latest",
            "if": "github.actor != 'github-classroom[bot]'",
            "timeout-minutes": JOB_MINUTES,
            "services": memcached_services(),
            "steps": [
                {"name": "Check out your code", "uses": action("actions/checkout")},
                {"name": "Set up Python", "uses": action("actions/setup-python"), "with": {"python-version": "3.11"}},
                {"name": "Install memcached and the test tools",
                 "run": ("sudo apt-get update -q\nsudo apt-get install -y -q memcached\n"
                         "python -m pip install -q -e .\n")},
                *graders,
                reporter,
            ],
        }},
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: dict, header: str = "") -> str:
    # PyYAML quotes the key 'on' (YAML 1.1 reads a bare on as true); GitHub reads either.
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False)


# -- checks a schema cannot make ---------------------------------------------------

_SERVERS = re.compile(r"MEMCACHED_SERVERS[=:]\s*['\"]?([\w.:,-]+)")


def service_ports(job: dict) -> set[int]:
    ports = set()
    for service in (job.get("services") or {}).values():
        for mapping in service.get("ports", []):
            ports.add(int(str(mapping).split(":")[0]))
    return ports


def servers_used(job: dict) -> list[set[int]]:
    """The ports of every MEMCACHED_SERVERS a job's steps set, in a command or in `env:`."""
    found = []
    texts = [yaml.safe_dump(job.get("env") or {})]
    for step in job.get("steps", []):
        texts += [yaml.safe_dump(step.get("env") or {}), str(step.get("run", "")),
                  str((step.get("with") or {}).get("command", ""))]
    for text in texts:
        for spec in _SERVERS.findall(text):
            found.append({int(part.rsplit(":", 1)[1]) for part in spec.split(",") if ":" in part})
    return found


def outdated_actions(document: dict) -> list[str]:
    """Every step that pins an action of CURRENT at another major."""
    out = []
    for name, job in (document.get("jobs") or {}).items():
        for step in job.get("steps", []):
            used, _, major = str(step.get("uses", "")).partition("@")
            if used in CURRENT and major != CURRENT[used]:
                out.append(f"job {name}: {used}@{major} is not the Node 24 major: use {action(used)}")
    return out


_STUDENT_CODE = re.compile(r"\bgrader\b.*\bgrade(-class)?\b|\bpytest\b")


def runs_student_code(job: dict) -> bool:
    """A step that grades or tests a submission: student code runs in that job."""
    return any(_STUDENT_CODE.search(str(step.get("run", ""))) or
               str(step.get("uses", "")).startswith(COMMAND_GRADER.split("@")[0])
               for step in job.get("steps", []))


def holds_secret(job: dict) -> bool:
    return "secrets." in yaml.safe_dump(job)


def grader_minutes(job: dict) -> float:
    return sum(float((step.get("with") or {}).get("timeout", 10)) for step in job.get("steps", [])
               if str(step.get("uses", "")).startswith(COMMAND_GRADER.split("@")[0]))


def problems(document: dict, assignments: list[Assignment] | None = None) -> list[str]:
    """What is wrong with a workflow beyond its schema; [] when nothing is."""
    out = outdated_actions(document)
    for name, job in (document.get("jobs") or {}).items():
        if holds_secret(job) and runs_student_code(job):
            out.append(f"job {name}: holds a secret and runs student code")
        limit = job.get("timeout-minutes", 360)
        if grader_minutes(job) and isinstance(limit, (int, float)) and grader_minutes(job) + SETUP_MARGIN > limit:
            out.append(f"job {name}: its graders may take {grader_minutes(job):g} min, and the job stops at "
                       f"{limit}: one hang would leave no score at all")
        script = "\n".join(str(step.get("run", "")) for step in job.get("steps", []))
        install, update = script.find("apt-get install"), script.find("apt-get update")
        if install >= 0 and not 0 <= update < install:
            out.append(f"job {name}: apt-get install before apt-get update (stale lists 404 on hosted runners)")
        ports = service_ports(job)
        for used in servers_used(job):
            if not used <= ports:
                out.append(f"job {name}: MEMCACHED_SERVERS uses ports {sorted(used - ports)} "
                           f"that no service publishes ({sorted(ports)})")
        steps = job.get("steps", [])
        graders = [s for s in steps if str(s.get("uses", "")).startswith(COMMAND_GRADER.split("@")[0])]
        reporters = [s for s in steps if str(s.get("uses", "")).startswith(REPORTER.split("@")[0])]
        if assignments is not None and (graders or reporters):
            named = {s["with"]["test-name"] for s in graders}
            out += [f"job {name}: no grader step for {a.id}" for a in assignments if a.id not in named]
        for reporter in reporters:
            runners = set(reporter["with"]["runners"].split(","))
            ids = {s.get("id") for s in graders}
            out += [f"job {name}: the reporter does not list step {i}" for i in sorted(ids - runners)]
            out += [f"job {name}: the reporter lists {r}, which is no grader step" for r in sorted(runners - ids)]
            env = reporter.get("env") or {}
            out += [f"job {name}: the reporter has no {i.upper()}_RESULTS" for i in sorted(ids)
                    if env.get(f"{i.upper()}_RESULTS") != f"${{{{steps.{i}.outputs.result}}}}"]
    return out
