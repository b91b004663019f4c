"""The model registry: one entry per model name, used by the CLI and by :func:`genzoo.load`.

Each entry ties a name (``vae``, ``nade``, ``dcgan`` ...) to its ``nn.Module`` class, its config
dataclass, the objectives that can train it (the first is the default) and a one-line summary.
Model modules register themselves with :func:`register_model`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelEntry:
    name: str
    model_cls: type
    config_cls: type
    objectives: tuple[str, ...]
    family: str
    summary: str
    config_overrides: tuple[tuple[str, object], ...] = ()
    #: TrainConfig fields this model trains best with (e.g. GANs: lr 2e-4, betas (0.5, 0.999))
    train_defaults: tuple[tuple[str, object], ...] = ()

    def default_train_config(self, **kw):
        from genzoo.training.trainer import TrainConfig

        values = dict(self.train_defaults)
        values.update(kw)
        return TrainConfig(**values)

    def default_config(self, **kw):
        values = dict(self.config_overrides)
        values.update(kw)
        return self.config_cls(**values)


@dataclass(frozen=True)
class ObjectiveEntry:
    name: str
    objective_cls: type
    config_cls: type
    summary: str


MODELS: dict[str, ModelEntry] = {}
OBJECTIVES: dict[str, ObjectiveEntry] = {}


def register_model(
    name: str, *, config: type, objectives: tuple[str, ...], family: str, summary: str,
    overrides: dict | None = None, train_defaults: dict | None = None,
):
    """Class decorator: ``@register_model("vae", config=VAEConfig, objectives=("elbo", "iwae"), ...)``.

    ``overrides`` registers a variant of a class under another name with other config defaults
    (for example the convolutional VAE); call :func:`register_variant` for more than one name.
    """

    def deco(cls):
        register_variant(name, cls, config=config, objectives=objectives, family=family,
                         summary=summary, overrides=overrides, train_defaults=train_defaults)
        return cls

    return deco


def register_variant(name, cls, *, config, objectives, family, summary, overrides=None,
                     train_defaults=None) -> None:
    if name in MODELS:
        raise ValueError(f"model name {name!r} is registered twice")
    MODELS[name] = ModelEntry(name, cls, config, tuple(objectives), family, summary,
                              tuple((overrides or {}).items()), tuple((train_defaults or {}).items()))


def register_objective(name: str, *, config: type, summary: str):
    def deco(cls):
        if name in OBJECTIVES:
            raise ValueError(f"objective name {name!r} is registered twice")
        OBJECTIVES[name] = ObjectiveEntry(name, cls, config, summary)
        cls.registry_name = name
        return cls

    return deco


def get_model(name: str) -> ModelEntry:
    _import_all()
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def get_objective(name: str) -> ObjectiveEntry:
    _import_all()
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(sorted(OBJECTIVES))}") from None


def registered_name(model) -> str:
    """The registry name of a model instance: its ``registry_name`` if set (models built by genzoo),
    else the first name registered for its class (variants of a class differ only in defaults,
    and the saved config holds every field)."""
    name = getattr(model, "registry_name", "")
    if name:
        return name
    _import_all()
    for entry in MODELS.values():
        if entry.model_cls is type(model):
            return entry.name
    raise ValueError(f"{type(model).__name__} is not a registered genzoo model; register it with @register_model")


def _import_all() -> None:
    import genzoo.models  # noqa: F401  (registers every model)
    import genzoo.objectives  # noqa: F401
