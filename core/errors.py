"""The one error type segplan raises for problems a user can fix.

Pages show it with ``st.error``; the CLI prints it on one line and exits 1. Anything else that
escapes is a bug and should surface as one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SegplanError(Exception):
    """A problem the user can fix, said in their words.

    ``message`` says what is wrong and names the file, row, column or parameter and the bad
    value; ``hint`` says how to fix it.
    """

    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message
