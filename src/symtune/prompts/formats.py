"""The format bank: how an input-label pair is written (the paper's ten formats)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """How one input-label pair is written: `{input_prefix}x{separator}{output_prefix} y`."""

    input_prefix: str
    separator: str
    output_prefix: str

    def pair(self, text: str, answer: str) -> str:
        return f"{self.input_prefix}{text}{self.separator}{self.output_prefix} {answer}"

    def query(self, text: str) -> str:
        return f"{self.input_prefix}{text}{self.separator}{self.output_prefix}"


FORMATS: tuple[Format, ...] = (
    Format("Input: ", "\n", "Output:"),
    Format("Input: ", "\n", "Target:"),
    Format("Input: ", "\n", "Symbol:"),
    Format("Input: ", "\n", "Label:"),
    Format("Question: ", "\n", "Answer:"),
    Format("Student: ", "\n", "Teacher:"),
    Format("X = ", "\n", "Y ="),
    Format("Q: ", "\n", "A:"),
    Format("", " ", "->"),
    Format("Sentences: ", "\n", "Mapped To:"),
)
PAIR_SEPARATOR = "\n\n"
