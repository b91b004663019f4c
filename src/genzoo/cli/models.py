"""``genzoo models``: the registered models and objectives."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list the models and their objectives",
                       description="List every registered model with its family, objectives (default first) "
                                   "and a one-line summary.")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.registry import MODELS, OBJECTIVES, get_model

    get_model("vae")  # imports every model
    width = max(len(n) for n in MODELS)
    print("models:")
    for name in sorted(MODELS, key=lambda n: (MODELS[n].family, n)):
        e = MODELS[name]
        print(f"  {name:<{width}}  [{e.family}] {e.summary}  (objectives: {', '.join(e.objectives)})")
    print("objectives:")
    for name in sorted(OBJECTIVES):
        print(f"  {name:<{width}}  {OBJECTIVES[name].summary}")
    return 0
