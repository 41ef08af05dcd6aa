"""What `nbgrader autograde` needs to know about this course; nbgrader_config.py reads it.

Three of nbgrader's defaults do not fit a course whose labs run the student's own module:

- autograde runs each lab in a kernel that is the instructor's own process, able to
  read the solutions, the hidden tests and the gradebook: `WalledExecute` starts it
  behind the wall instead (walled_kernel.py);

- autograde copies every file of the source folder (solutions/<id>/) over the
  submission before running it, so each lab would run on the reference module and
  the feedback would hand it to every student. `kept_from_submission` names the
  files it must leave as the student wrote them.
- the gradebook records a locked cell's checksum before its hidden tests are
  cleared, and the released notebook the one after, so autograde reports every
  untouched hidden-test cell as changed (jupyter/nbgrader#1961). An instructor
  reads that as tampering. `OverwriteReleasedCells` restores such a cell silently
  when it is exactly what was released, and still warns about any other change.
"""
from __future__ import annotations

import copy

from nbgrader.api import MissingEntry
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, OverwriteCells

from grader import course
from grader.authoring import generate


def kept_from_submission() -> dict[str, list[str]]:
    """Autograde.exclude_overwriting: per assignment, the files students write."""
    return {a.id: generate.students_files(a) for a in course.CATALOGUE if a.solution_dir.is_dir()}


class OverwriteReleasedCells(OverwriteCells):
    """nbgrader's OverwriteCells, comparing a hidden-test cell with its released version."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                recorded = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                recorded = None  # nbgrader's own method says so below
            if recorded is not None and recorded.locked and cell.source == self._released(cell, recorded.source):
                cell.source = recorded.source  # untouched: give its hidden tests back before nbgrader checks
        return super().preprocess_cell(cell, resources, cell_index)

    def _released(self, cell, source: str) -> str:
        """What generate_assignment released for a cell whose gradebook source is `source`."""
        twin = copy.deepcopy(cell)
        twin.source = source
        ClearHiddenTests(parent=self).preprocess_cell(twin, {}, 0)
        return twin.source


class WalledExecute(Execute):
    """nbgrader's Execute, starting each lab's kernel behind the wall (walled_kernel.py). nbgrader's own
    Execute sets its kernel manager class when it is made, over any configuration: hence a subclass."""

    def __init__(self, *args, **kwargs):
        from grader.classwork.walled_kernel import WalledKernelManager

        kwargs["kernel_manager_class"] = WalledKernelManager
        super().__init__(*args, **kwargs)


def autograde_preprocessors() -> list:
    """Autograde's own steps, with Execute replaced by the class above."""
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [WalledExecute if step is Execute else step for step in default]


def sanitize_preprocessors() -> list:
    """Autograde's own sanitizing steps, with OverwriteCells replaced by the class above."""
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    return [OverwriteReleasedCells if step is OverwriteCells else step for step in default]
