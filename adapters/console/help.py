"""`/papers help` in the terminal: an aligned table (the command; what it does and an
example) that wraps inside its columns on a narrow screen, then the query language."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from paperboy.models import Help
from paperboy.terminal import terminal_safe


def render_help(guide: Help) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("command", style="bold cyan", max_width=36, overflow="fold")
    table.add_column("what it does (example)")
    for entry in guide.commands:
        what = Text(terminal_safe(entry.summary))
        if entry.example:
            what.append("\ne.g. ", style="dim")
            what.append(terminal_safe(entry.example), style="cyan")
        table.add_row(Text(terminal_safe(entry.usage)), what)
    parts: list[RenderableType] = [Text(terminal_safe(guide.intro), style="bold"), table]
    parts.append(Text(terminal_safe(guide.queries)))
    if guide.query_examples:
        examples = Text("Examples: ", style="bold")
        for i, example in enumerate(guide.query_examples):
            if i:
                examples.append("   ")
            examples.append(terminal_safe(example), style="cyan")
        parts.append(examples)
    return Group(*parts)
