"""``genzoo features``: train (or show) the cached feature network of the sample-quality metrics."""

from __future__ import annotations

import json


def register(sub) -> None:
    from genzoo.config import add_dataclass_options
    from genzoo.evaluation.features import FeatureNetConfig

    p = sub.add_parser(
        "features", help="train or show the feature network used by FID-style/KID/precision-recall",
        description="The sample-quality metrics of 'genzoo compare' are computed in the penultimate layer "
                    "of a small CNN classifier trained on a labelled dataset and cached under "
                    "$GENZOO_CACHE/features (default ~/.cache/genzoo) with a JSON sidecar (data, seed, "
                    "test accuracy, SHA-256). This command trains it if needed and prints the sidecar. "
                    "--data emoji trains a colour (3-channel, 32x32) emoji category classifier on the "
                    "training split of --vendor's drawings.")
    add_dataclass_options(p, FeatureNetConfig, key="features", title="feature network")
    p.add_argument("--retrain", action="store_true", help="train again even when cached")
    p.add_argument("--data-dir", help="folder of the dataset's files (not part of the cache key)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from genzoo.config import dataclass_from_args
    from genzoo.evaluation.features import FeatureNetConfig, feature_net_path, get_feature_extractor

    cfg = dataclass_from_args(FeatureNetConfig, args, key="features")
    get_feature_extractor(cfg, retrain=args.retrain, data_dir=args.data_dir,
                          log=lambda m: print(m, file=sys.stderr))
    path = feature_net_path(cfg)
    meta = json.loads(path.with_suffix(".json").read_text())
    print(json.dumps({"path": str(path), **meta}, indent=2))
    return 0
