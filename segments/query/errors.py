"""Errors of the segment language: every problem with its place in the query text."""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class QueryErrorDetail:
    """One problem: `code` is stable for programs, `message` is for people.

    Lines and columns are 1-based; `end_line`/`end_column` point just past the offending text.
    """

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    text: str = ""
    expected: tuple[str, ...] = ()
    suggestion: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["expected"] = list(self.expected)
        return data

    def __str__(self) -> str:
        hint = f" Did you mean {self.suggestion}?" if self.suggestion else ""
        return f"line {self.line}, column {self.column}: {self.message}{hint}"


@dataclass
class SegmentQueryError(ValueError):
    """A query that cannot be used; `errors` lists every problem found (at least one)."""

    errors: list[QueryErrorDetail] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "; ".join(str(error) for error in self.errors)

    def as_list(self) -> list[dict]:
        return [error.as_dict() for error in self.errors]
