"""``genzoo compare RUN_DIR...``: one table of every metric that applies to each run."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    from genzoo.config import add_dataclass_options
    from genzoo.evaluation.compare import CompareConfig

    p = sub.add_parser(
        "compare", help="compare runs: NLL, bits/dim, FID-style, KID, precision/recall, IS-style, time",
        description="Evaluate each run with every metric that applies (likelihood for density models, "
                    "feature metrics of samples for anything that samples, training time from metrics.csv) "
                    "and print one table with the command that produced each run. The feature network is "
                    "genzoo's cached classifier (see 'genzoo features').")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by 'genzoo train'")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--out", help="also write the output to this file")
    p.add_argument("--data", help="evaluate on this dataset name instead of each run's own")
    p.add_argument("--data-dir", help="override the data directory recorded in the runs")
    add_dataclass_options(p, CompareConfig, key="compare", title="evaluation options")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from genzoo.cli._common import data_overrides
    from genzoo.config import dataclass_from_args
    from genzoo.evaluation.compare import CompareConfig, compare_runs, format_table, machine_description

    cfg = dataclass_from_args(CompareConfig, args, key="compare")
    data = data_overrides(args)
    rows = compare_runs(args.runs, cfg, data=data or None, log=lambda m: print(m, file=sys.stderr))
    if args.json:
        text = json.dumps(rows, indent=2)
    else:
        text = format_table(rows, markdown=args.markdown, machine=machine_description(cfg.device))
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0
