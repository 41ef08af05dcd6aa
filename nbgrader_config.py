"""nbgrader's configuration for this course (run nbgrader from this folder).

solutions/ is nbgrader's source and assignments/ its release, so that
`nbgrader generate_assignment <id>` writes exactly what `grader generate` writes.
nbgrader copies .py files verbatim; the post-convert hook strips their solution
regions, and removes them all if it cannot, so no solution can leak that way.
Autograding runs each lab on the student's own module: the files students write
are never overwritten with the reference's, and each lab's kernel runs behind the
wall around student code (see grader/classwork/nbgrader_autograde.py).
Feedback leaves the lab's hidden tests out (see grader/classwork/nbgrader_feedback.py).
Class data (submissions, autograded copies, feedback, the gradebook) lives in
nbgrader/, which git ignores; `grader gradebook init <id>` creates it.
"""
import os
import sys

from grader.classwork import nbgrader_autograde, nbgrader_feedback

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "caches-and-queues"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "nbgrader/submitted"
c.CourseDirectory.autograded_directory = "nbgrader/autograded"
c.CourseDirectory.feedback_directory = "nbgrader/feedback"
c.CourseDirectory.solution_directory = "nbgrader/solution"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "nbgrader", "gradebook.db")

c.GenerateAssignment.post_convert_hook = "grader.authoring.notebooks.strip_released_modules"
c.Autograde.exclude_overwriting = nbgrader_autograde.kept_from_submission()
c.Autograde.sanitize_preprocessors = nbgrader_autograde.sanitize_preprocessors()
c.Autograde.autograde_preprocessors = nbgrader_autograde.autograde_preprocessors()  # kernels behind the wall
c.GenerateFeedback.preprocessors = nbgrader_feedback.preprocessors()  # no hidden test in feedback
c.Execute.timeout = 180  # seconds a cell may run when autograding (the labs run real experiments)

# nbgrader runs the `alembic` command: find this environment's own, as .venv/bin/nbgrader is run unactivated
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
