"""The reference module of an assignment, loaded from solutions/ for a benchmark to time.

Benchmarks run our own code, never a student's: they import the reference directly.
"""
from __future__ import annotations

import importlib.util
from types import ModuleType

from grader import course


def reference(assignment_id: str) -> ModuleType:
    """solutions/<id>/<module>, imported under a name of its own (reference_<module>)."""
    [assignment] = course.select(assignment_id)
    path = assignment.solution_dir / assignment.module
    spec = importlib.util.spec_from_file_location(f"reference_{assignment.module_name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
