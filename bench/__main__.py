"""`python -m bench` (`make bench`): see bench/README.md."""

from __future__ import annotations

import sys

from rich.console import Console

from bench.config import parse
from bench.report import checks, figures, print_report, write
from bench.run import Bench


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    console = Console()
    if not console.is_terminal:  # piped into a file or `tail`: don't squeeze the tables into 80 columns
        console = Console(width=150)
    bench = Bench(cfg, console)
    try:
        doc = bench.run()
    except KeyboardInterrupt:
        console.print("[red]bench: interrupted; writing what was measured[/]")
        doc = bench.doc
        doc["interrupted"] = True
    doc["figures"] = figures(doc, cfg)
    doc["checks"] = checks(doc["figures"], cfg)
    path = write(doc, cfg)
    print_report(doc, cfg, console)
    console.print(f"results: {path} (and {cfg.results_dir / 'latest.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
