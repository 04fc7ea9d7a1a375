"""`python -m bench` (`make bench`): see bench/README.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from bench.config import BenchConfig, parse
from bench.report import checks, figures, print_report, write
from bench.run import Bench


def rerender(path: Path, console: Console) -> int:
    """`python -m bench --report FILE`: recompute the figures of a results file and print its table."""
    doc = json.loads(path.read_text())
    raw = doc["config"]
    cfg = BenchConfig(
        **{
            **raw,
            "sessions": tuple(raw["sessions"]),
            "workers": tuple(raw["workers"]),
            "results_dir": Path(raw["results_dir"]),
            "skip": frozenset(raw["skip"]),
        }
    )
    doc["figures"] = figures(doc, cfg)
    doc["checks"] = checks(doc, doc["figures"], cfg)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print_report(doc, cfg, console)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    console = Console()
    if not console.is_terminal:  # piped into a file or `tail`: don't squeeze the tables into 80 columns
        console = Console(width=150)
    if len(args) == 2 and args[0] == "--report":
        return rerender(Path(args[1]), console)
    cfg = parse(args)
    bench = Bench(cfg, console)
    try:
        doc = bench.run()
    except KeyboardInterrupt:
        console.print("[red]bench: interrupted; writing what was measured[/]")
        doc = bench.doc
        doc["interrupted"] = True
    doc["figures"] = figures(doc, cfg)
    doc["checks"] = checks(doc, doc["figures"], cfg)
    path = write(doc, cfg)
    print_report(doc, cfg, console)
    console.print(f"results: {path} (and {cfg.results_dir / 'latest.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
