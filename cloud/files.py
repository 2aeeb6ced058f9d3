"""The one way an import file is refused: whole, with every fault found."""
from __future__ import annotations

MAX_REPORTED = 25


class FileRefused(ValueError):
    """Nothing of the file was imported; `problems` lists every fault (line, feature, code)."""

    what = "file"

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{self.what} refused ({len(problems)} problem{'s' * (len(problems) != 1)}), "
                         "nothing imported:\n  " + "\n  ".join(shown) + more)
