"""Whether the student's module imports at all, tried once in a student process before any test runs.

A module that does not import, exits, or hangs at import costs every test with one line saying
so; the probe finds that line.
"""
from __future__ import annotations

from grader.student_box import Box
from grader.student_errors import NotPlainData, StudentCodeRaised, StudentProcessEnded, fate
from grader.zygote_control import Zygote


def probe(box: Box, seconds: float) -> str | None:
    """None when the module imports in a student process; otherwise one line on what went wrong."""
    file = f"{box.module}.py"
    zygote = Zygote(box)
    try:
        process = zygote.spawn()
        try:
            process.start(timeout=seconds)
        except TimeoutError:
            return (f"{file} did not finish importing within {seconds:.0f} s "
                    "(a loop, a sleep or a blocking call at module level?)")
        except StudentCodeRaised as exc:
            return str(exc)
        except StudentProcessEnded:
            return (f"{file} stopped the interpreter while being imported (it {fate(process.end())}): "
                    "is there a sys.exit() or os._exit() at module level?")
        except NotPlainData as exc:
            return str(exc)
        finally:
            process.end()
    finally:
        zygote.close()
    return None
