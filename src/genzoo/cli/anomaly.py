"""``genzoo anomaly RUN_DIR``: score inputs by how unlikely the model finds them; AUROC and a CSV."""

from __future__ import annotations

import json

from genzoo.cli._common import add_run_arguments, data_overrides, load_run, positive_int
from genzoo.evaluation.anomaly import SCORES
from genzoo.nn.random import seeded_generator


def register(sub) -> None:
    p = sub.add_parser(
        "anomaly", help="anomaly scores (NLL, -ELBO, reconstruction error, ...) and AUROC",
        description="Score every example of a split with a trained model (higher = more anomalous): "
                    "nll (-log p(x)), nelbo (-ELBO), recon (squared reconstruction error), code (-log "
                    "density of the code under a Gaussian fitted to the normal training codes) or disc "
                    "(-discriminator logit); 'auto' picks the first that applies. With --normal-label, "
                    "examples of other classes are the anomalies and the AUROC is reported; the run must have "
                    "been trained on that class only ('genzoo train MODEL --classes N ...'). The split "
                    "scored holds every class. Writes one CSV row per example and prints a JSON summary.")
    add_run_arguments(p)
    p.add_argument("--data", help="dataset name to score (default: the run's own; other preprocessing "
                                  "options are kept from the run)")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"),
                   help="split to score (default: test)")
    p.add_argument("--normal-label", type=int,
                   help="the normal class, the one the run was trained on (--classes); every other class is an "
                        "anomaly")
    p.add_argument("--score", default="auto", choices=("auto", *SCORES), help="anomaly score (default: auto)")
    p.add_argument("-k", "--k", type=positive_int, default=100,
                   help="importance samples for the nll score of latent-variable models (default: 100)")
    p.add_argument("--limit", type=positive_int, help="score only the first N examples")
    p.add_argument("--batch-size", type=positive_int, default=256, help="examples per batch (default: 256)")
    p.add_argument("--out", help="CSV path (default: RUN_DIR/anomaly_<score>.csv)")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.evaluation.anomaly import anomaly_scores, auroc, available_scores, write_scores_csv
    from genzoo.training.run import load_run_data, read_run_config

    trained_on = read_run_config(args.run).get("data", {}).get("classes")
    if args.normal_label is not None and trained_on != [args.normal_label]:
        what = "every class" if trained_on is None else f"classes {trained_on}"
        raise ValueError(f"--normal-label {args.normal_label}: {args.run} was trained on {what}, not on the "
                         f"normal class only; train one with 'genzoo train MODEL --classes {args.normal_label} ...'")
    model = load_run(args)
    data = load_run_data(args.run, **data_overrides(args), classes=None)  # score every class
    split = getattr(data, args.split)
    x, y = split.x, split.y
    if args.limit is not None:
        x, y = x[: args.limit], (None if y is None else y[: args.limit])
    score = args.score if args.score != "auto" else (available_scores(model) or ("none",))[0]
    reference = None
    if score == "code":
        reference = data.train.x
        if args.normal_label is not None and data.train.y is not None:
            reference = reference[data.train.y == args.normal_label]

    g = seeded_generator(args.seed, model.device)
    scores = anomaly_scores(model, x, score, k=args.k, reference=reference, batch_size=args.batch_size,
                            generator=g, spec=data.spec)
    result = {"run": str(args.run), "data": args.data or data.name, "split": args.split, "score": score,
              "n": len(scores)}
    if score in ("nll", "nelbo"):  # what the score is under the data contract (e.g. BCE on grey values)
        from genzoo.data.spec import figure_label

        figure = data.spec.check_model(model)
        result["score_is"] = figure_label(figure, exact=score == "nll" and model.exact_likelihood, k=args.k)
        if score == "nelbo" and figure in ("nll", "dequantized_bound", "continuous_nll"):
            result["score_is"] = "-ELBO, an upper bound on the NLL"
    is_anomaly = None
    if args.normal_label is not None:
        if y is None:
            raise ValueError(f"--normal-label: dataset {data.name!r} has no labels")
        is_anomaly = (y != args.normal_label).cpu().numpy()
        result["normal_label"] = args.normal_label
        result["anomalies"] = int(is_anomaly.sum())
        result["auroc"] = auroc(scores, is_anomaly)
    path = write_scores_csv(args.out or f"{args.run}/anomaly_{score}.csv", scores,
                            None if y is None else y.cpu().numpy(), is_anomaly, score_name=score)
    result["csv"] = str(path)
    print(json.dumps(result, indent=2))
    return 0
