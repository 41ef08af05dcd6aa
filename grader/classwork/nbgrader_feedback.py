"""What `nbgrader generate_feedback` hands back: the student's lab with its grades, and no hidden test.

nbgrader puts the hidden tests back into each notebook to autograde it, and by
design its feedback shows them (jupyter/nbgrader#917): the code of every hidden-test
cell, and the traceback of a failing one, which quotes the failing line. Our hidden
tests are reused from one year to the next, so the feedback keeps the verdict (the
points, and the error's type and message) and drops the rest.
"""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

TRACEBACK_CUT = "(the rest of the traceback quotes hidden tests, so it is not shown)"


class HideHiddenTests(NbGraderPreprocessor):
    """Hidden-test regions cleared from every cell, and each error shown as its last line only."""

    def preprocess_cell(self, cell, resources, cell_index):
        ClearHiddenTests(parent=self, enforce_metadata=False).preprocess_cell(cell, resources, cell_index)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}", TRACEBACK_CUT]
        return cell, resources


def preprocessors() -> list:
    """GenerateFeedback.preprocessors: nbgrader 0.9's own two, with ours between them."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
