"""What a named report is, declared once: its SQL, the views it reads, the filters it takes, the
columns that identify a row and the figures `--compare` sets beside them, the columns a table
shows and whether it plots. The CLI, the teacher's site and the tests all read these specs."""

from __future__ import annotations

from dataclasses import dataclass

# Every filter a report may take, in the order the CLI offers them; the flag is the name
# without `_id` (`class_id` is `--class`).
FILTERS = ("class_id", "learner_id", "recording_id", "run", "since", "model")


def flag(filter_name: str) -> str:
    """The command-line flag of a filter."""
    return "--" + filter_name.removesuffix("_id")


@dataclass(frozen=True)
class Shown:
    """A column a table shows by default: the row's field, its header (a newline splits it over
    two lines) and whether the field is a fraction shown as a percentage."""

    key: str
    header: str | None = None
    percent: bool = False


@dataclass(frozen=True)
class ReportSpec:
    """One named report.

    `views` are the report views its SQL reads (directly or through a report function), which
    the read-only role `pronscore_report` may read too. A report with an `identity` shows one
    model version at a time (its rows are that version's scores): `identity` are the columns
    that tell its rows apart within one version, `labels` the columns that follow from them
    (kept on a row only the compared version has), `compared` the figures `--compare` puts
    beside the model's, `compared_table` the columns a table shows then (of which those in
    `paired` appear twice, the model's and the compared version's) and `order` how the merged
    rows are sorted.
    """

    name: str
    description: str
    sql_file: str
    views: tuple[str, ...]
    filters: frozenset[str]
    table: tuple[Shown, ...]
    identity: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()
    compared_table: tuple[str, ...] = ()
    paired: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    takes_top: bool = False
    plots: bool = False

    def __post_init__(self) -> None:
        unknown = self.filters - set(FILTERS)
        if unknown:
            raise ValueError(f"report {self.name}: unknown filters {sorted(unknown)}")
        if bool(self.identity) != bool(self.compared):
            raise ValueError(f"report {self.name}: a score report declares both its identity and compared figures")
        unknown_pairs = set(self.paired) - (set(self.compared) & set(self.compared_table))
        if unknown_pairs or bool(self.paired) != bool(self.compared):
            raise ValueError(f"report {self.name}: pair compared figures the compared table shows")

    @property
    def one_model(self) -> bool:
        """Whether its rows are one model version's scores (so --model picks one, --compare adds one)."""
        return bool(self.identity)
