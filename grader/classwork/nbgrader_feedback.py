"""What `nbgrader generate_feedback` hands back: the student's lab with its grades, and no hidden test.

nbgrader puts the hidden tests back into each notebook to autograde it, and by
design its feedback shows them (jupyter/nbgrader#917): the code of every hidden-test
cell, and the traceback of a failing one, which quotes the failing line. Our hidden
tests are reused from one year to the next, so they are cleared from every cell.

Nothing the autograded run printed is shown either: that run's hidden tests shared
the kernel with the student's code, which can print each cell's code as it runs (an
IPython hook), or raise it as an error's message or type, in any cell after. So each
cell shows its code as the student wrote it, its points, and for a test cell that
failed, that it failed; the student's own run of the notebook shows the rest.
"""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

OUTPUT_CUT = ("this cell failed; what it printed is not shown (it ran beside hidden tests, which code can "
              "print): run the notebook yourself to see it")


class HideHiddenTests(NbGraderPreprocessor):
    """Hidden-test regions cleared from every cell, and no output of the autograded run kept: a cell that
    raised says only that it failed."""

    def preprocess_cell(self, cell, resources, cell_index):
        ClearHiddenTests(parent=self, enforce_metadata=False).preprocess_cell(cell, resources, cell_index)
        if cell.get("cell_type") == "code":
            failed = any(output.get("output_type") == "error" for output in cell.get("outputs", []))
            cell["outputs"] = [{"output_type": "error", "ename": "Failed", "evalue": "",
                                "traceback": [OUTPUT_CUT]}] if failed else []
        return cell, resources


def preprocessors() -> list:
    """GenerateFeedback.preprocessors: nbgrader 0.9's own two, with ours between them."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
