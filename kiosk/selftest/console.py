"""The technician's side of the self-test: prompts out, answers in (stdin, so tests can answer)."""

from __future__ import annotations

from typing import TextIO


class Console:
    """Prompts go to `out`; `ask` reads one line of `answers`."""

    def __init__(self, answers: TextIO, out: TextIO) -> None:
        self.answers = answers
        self.out = out

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def ask(self, question: str) -> str | None:
        """The stripped, lower-cased answer; None if the input is closed."""
        print(question, end=" ", file=self.out, flush=True)
        line = self.answers.readline()
        return line.strip().lower() if line else None
