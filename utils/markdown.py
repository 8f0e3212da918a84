"""Markdown pieces of the report: pipe tables and figure lines. No TensorFlow here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["figure_lines", "markdown_table"]


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A pipe table; index levels become ordinary leading columns."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
        return frame.to_markdown(index=False, floatfmt=floatfmt)
    return frame.to_markdown(floatfmt=floatfmt)


def figure_lines(figures_dir: Path, report_dir: Path, names: Mapping[str, str]) -> list[str]:
    """Markdown image lines, with captions, for the figures of ``names`` (file stem ->
    caption) that exist in ``figures_dir``, linked relative to the report's folder."""
    lines = []
    for name, caption in names.items():
        path = figures_dir / f"{name}.png"
        if path.exists():
            relative = Path("..") / path.relative_to(report_dir.parent) \
                if path.is_relative_to(report_dir.parent) else path
            lines.append(f"![{caption}]({relative.as_posix()})\n\n*{caption}*\n")
    return lines
