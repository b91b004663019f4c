"""The feature network that the sample-quality metrics (FID-style, KID, precision/recall, IS-style)
are computed in, and the :class:`FeatureExtractor` protocol that lets you plug in your own.

genzoo cannot download Inception-v3 (the network behind published FID/IS numbers), so by default
it trains a small CNN classifier on a labelled training split (``mnist5k`` unless told otherwise),
reports its test accuracy, and uses its 128-d penultimate layer as the feature space and its
softmax for the IS-style score (as in the "MNIST classifier" scores of e.g. Li et al. 2017). The
weights are cached under ``$GENZOO_CACHE/features`` (default ``~/.cache/genzoo``) as safetensors
beside a JSON sidecar (format version, training data, seed, accuracy, SHA-256 of the weights);
loading checks the hash, so two evaluations that report the same extractor ``name`` used
bit-identical features.

Using your own network (for example local Inception-v3 weights)::

    import torchvision                                   # not a genzoo dependency
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load("pt_inception_v3.pth"))
    net.fc = torch.nn.Identity()                         # 2048-d pool features
    ext = ModuleFeatures(net, name="inception-v3-local", input_size=(299, 299), channels=3,
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    sample_quality(real, fake, ext)                      # genzoo.evaluation.metrics

Any object with a ``name`` attribute and ``__call__(x) -> (N, F)`` for images ``x`` (N, C, H, W) in
[0, 1] is a :class:`FeatureExtractor`; add ``probs(x) -> (N, K)`` to get the IS-style score too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field, from_dict, to_dict

FORMAT_VERSION = 1


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) in [0, 1] to features (N, F); ``name`` identifies the network."""

    name: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


#: datasets whose classifier sees colour (3 channels, 32x32 by default); every other one is grey
COLOUR_DATA = ("emoji", "cifar10")
#: fields added after the first cached networks: left out of the cache key while unset / at their
#: defaults, so the networks cached before them (e.g. the mnist5k one) keep their names
_LATER_FIELDS = {"data_seed": 0, "in_channels": 1, "vendor": None, "data_size": None}


@dataclass(frozen=True)
class FeatureNetConfig:
    """The small CNN classifier whose penultimate layer is genzoo's default feature space.

    Unset fields (None) are filled in from ``data``: a colour dataset (:data:`COLOUR_DATA`) gives a
    3-channel classifier at ``input_size`` 32 trained on images loaded at that size (emoji: of
    ``vendor`` google unless told), any other dataset the 1-channel 28x28 network of before."""

    data: str = field("mnist5k", help="labelled dataset the classifier is trained on")
    data_seed: int = field(0, help="split seed of that dataset (a run's --data-seed): the classifier trains "
                                   "on that split's training images, never on its test images")
    seed: int = field(0, help="seed for initialisation and shuffling")
    input_size: int | None = field(None, help="images are resized to input_size x input_size (None: 32 for "
                                              "colour datasets, 28 otherwise)")
    in_channels: int | None = field(None, help="channels the classifier sees: 1 averages RGB to grey, 3 keeps "
                                               "colour (None: 3 for colour datasets, 1 otherwise)",
                                    choices=(1, 3))
    vendor: str | None = field(None, help="emoji: whose drawings the classifier trains on (None: google)",
                               choices=("google", "twitter"))
    data_size: int | None = field(None, help="load the training images at this size with the dataset's own "
                                             "resize (None: input_size for colour datasets, native otherwise)")
    channels: tuple[int, ...] = field((32, 64), help="conv channels, each block halves the size")
    feature_dim: int = field(128, help="size of the penultimate layer (the feature space)")
    num_classes: int = field(10, help="number of classes")
    epochs: int = field(8, help="training epochs")
    batch_size: int = field(64, help="training batch size")
    lr: float = field(2e-3, help="Adam learning rate")

    def __post_init__(self) -> None:
        colour = self.data in COLOUR_DATA
        if self.input_size is None:
            object.__setattr__(self, "input_size", 32 if colour else 28)
        if self.in_channels is None:
            object.__setattr__(self, "in_channels", 3 if colour else 1)
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels: must be 1 or 3, got {self.in_channels}")
        if self.vendor is None and self.data == "emoji":
            object.__setattr__(self, "vendor", "google")
        if self.vendor is not None and self.data != "emoji":
            raise ValueError(f"vendor: only applies to data=emoji, not {self.data!r}")
        if self.data_size is None and colour:
            object.__setattr__(self, "data_size", self.input_size)

    def data_options(self) -> dict:
        """The ``DataConfig`` fields (beside name and seed) of the classifier's training data."""
        opts: dict = {}
        if self.vendor is not None:
            opts["vendor"] = self.vendor
        if self.data_size is not None:
            opts["size"] = self.data_size
        return opts

    @property
    def name(self) -> str:
        """Identifies the network: readable fields plus a short hash of every field (the cache key)."""
        fields = to_dict(self)
        for key, default in _LATER_FIELDS.items():  # networks cached before a field existed keep their names
            if fields.get(key) == default:
                del fields[key]
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
        split = f"-split{self.data_seed}" if self.data_seed else ""
        vendor = f"-{self.vendor}" if self.vendor else ""
        colour = "-rgb" if self.in_channels == 3 else ""
        return f"cnn{self.feature_dim}-{self.data}{vendor}{colour}{split}-seed{self.seed}-{digest}"


def feature_config_for(data_cfg, **overrides) -> FeatureNetConfig:
    """The feature network for a run's data (a ``DataConfig``): the run's dataset and split seed, and
    for emoji the run's vendor; everything else at the defaults (``overrides`` replace fields)."""
    fields: dict = {"data": data_cfg.name, "data_seed": data_cfg.seed}
    if data_cfg.name == "emoji":
        fields["vendor"] = getattr(data_cfg, "vendor", None)
    return FeatureNetConfig(**{**fields, **overrides})


def _adapt(x: torch.Tensor, channels: int, size: tuple[int, int] | None) -> torch.Tensor:
    """Match the channel count (average RGB to grey, repeat grey to RGB) and the spatial size."""
    if x.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    x = x.float()
    if x.shape[1] != channels:
        if channels == 1:
            x = x.mean(1, keepdim=True)
        elif x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            raise ValueError(f"cannot map {x.shape[1]} channels to {channels}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]  # antialiased when shrinking (64 -> 32)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return x


class FeatureNet(nn.Module):
    """conv-relu-pool blocks -> linear (feature_dim) -> relu -> linear (num_classes logits)."""

    def __init__(self, config: FeatureNetConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in, size = config.in_channels, config.input_size
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, size = c, size // 2
        if size < 1:
            raise ValueError(f"input_size {config.input_size} is too small for {len(config.channels)} blocks")
        self.body = nn.Sequential(*layers, nn.Flatten(),
                                  nn.Linear(c_in * size * size, config.feature_dim), nn.ReLU())
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.input_size
        return _adapt(x, self.config.in_channels, (s, s))  # (N, in_channels, s, s)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(x))  # (N, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes)."""
        return self.head(self.features(x))


def _batched(fn, x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    outs = [fn(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.zeros(0)


class ClassifierFeatures:
    """A :class:`FeatureExtractor` from a trained :class:`FeatureNet`; ``probs`` gives its softmax."""

    def __init__(self, net: FeatureNet, *, name: str | None = None, accuracy: float | None = None,
                 batch_size: int = 500):
        self.net = net.eval()
        self.name = name or net.config.name
        self.accuracy = accuracy
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> ClassifierFeatures:
        """Move the network (in place; inputs are moved batch by batch, outputs come back on the CPU)."""
        self.net.to(device)
        return self

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _batched(self.net.features, x, self.batch_size, self.device)  # (N, F)

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        return _batched(lambda b: self.net(b).softmax(-1), x, self.batch_size, self.device)  # (N, K)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.probs(x).argmax(-1)


class ModuleFeatures:
    """Wrap any ``nn.Module`` (e.g. Inception-v3 with ``fc = Identity``) as a FeatureExtractor.

    Inputs in [0, 1] are converted to ``channels`` channels, resized to ``input_size``, normalised
    with ``mean``/``std`` when given, and the module's output is flattened to (N, F). Pass
    ``probs_module`` (a module returning logits) to enable the IS-style score.
    """

    def __init__(self, module: nn.Module, *, name: str, input_size: tuple[int, int] | None = None,
                 channels: int = 1, mean: tuple[float, ...] | None = None,
                 std: tuple[float, ...] | None = None, probs_module: nn.Module | None = None,
                 batch_size: int = 100):
        self.module = module.eval()
        self.name = name
        self.input_size = input_size
        self.channels = channels
        self.mean, self.std = mean, std
        self.batch_size = batch_size
        if probs_module is not None:
            probs_module.eval()
            self.probs = lambda x: self._run(lambda b: probs_module(b).softmax(-1), x)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = _adapt(x, self.channels, self.input_size)
        if self.mean is not None:
            m = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
            s = torch.tensor(self.std or (1.0,) * len(self.mean), device=x.device).view(1, -1, 1, 1)
            x = (x - m) / s
        return x

    @torch.no_grad()
    def _run(self, fn, x: torch.Tensor) -> torch.Tensor:
        device = next(self.module.parameters(), torch.zeros(0)).device
        return _batched(lambda b: fn(self._prepare(b)).flatten(1), x, self.batch_size, device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.module, x)


# ------------------------------------------------------------------------------------- training


def train_feature_net(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                      y_test: torch.Tensor, config: FeatureNetConfig = FeatureNetConfig(),
                      *, log=None) -> tuple[FeatureNet, float]:
    """Train the classifier with Adam and cross-entropy; return it and its test accuracy.
    Seeded: initialisation uses ``config.seed`` and shuffling its own generator."""
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError("images and labels differ in length")
    y_train, y_test = y_train.long(), y_test.long()
    if int(y_train.max()) >= config.num_classes or int(y_train.min()) < 0:
        raise ValueError(f"labels must lie in [0, {config.num_classes}); got {int(y_train.min())}.."
                         f"{int(y_train.max())}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = FeatureNet(config)
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    x_train = net.prepare(x_train)  # resize once, (N, in_channels, S, S)
    steps = config.epochs * math.ceil(len(x_train) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    net.train()
    for epoch in range(config.epochs):
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), config.batch_size):
            idx = perm[i:i + config.batch_size]
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log is not None:
            log(f"epoch {epoch + 1}/{config.epochs}: train loss {total / len(perm):.4f}")
    net.eval()
    acc = float((ClassifierFeatures(net).predict(x_test) == y_test).double().mean())
    return net, acc


# ---------------------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """``$GENZOO_CACHE`` or ``~/.cache/genzoo``."""
    return Path(os.environ.get("GENZOO_CACHE", Path.home() / ".cache" / "genzoo"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_feature_net(net: FeatureNet, path: str | Path, *, accuracy: float) -> Path:
    """Write ``path`` (.safetensors) and its JSON sidecar (``path`` with suffix .json)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # atomic: readers never see half a file
    save_file(state, str(tmp))
    meta = {"format_version": FORMAT_VERSION, "name": net.config.name, "data": net.config.data,
            "data_options": net.config.data_options(), "seed": net.config.seed,
            "test_accuracy": accuracy, "config": to_dict(net.config),
            "sha256": _sha256(tmp)}
    side_tmp = tmp.with_suffix(".json.tmp")
    side_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, path)
    os.replace(side_tmp, path.with_suffix(".json"))
    return path


def load_feature_net(path: str | Path) -> tuple[FeatureNet, dict]:
    """Load weights + sidecar, verifying the format version and the SHA-256 of the weights."""
    from safetensors.torch import load_file

    path = Path(path)
    side = path.with_suffix(".json")
    if not path.is_file() or not side.is_file():
        raise ValueError(f"feature network {path} or its sidecar {side.name} is missing")
    meta = json.loads(side.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{side}: format_version {meta.get('format_version')} is not {FORMAT_VERSION}")
    digest = _sha256(path)
    if digest != meta.get("sha256"):
        raise ValueError(f"{path}: SHA-256 {digest[:12]}... does not match its sidecar "
                         f"({str(meta.get('sha256'))[:12]}...); delete both files to retrain")
    net = FeatureNet(from_dict(FeatureNetConfig, meta["config"]))
    net.load_state_dict(load_file(str(path)))
    return net.eval(), meta


def feature_net_path(config: FeatureNetConfig) -> Path:
    return cache_dir() / "features" / f"{config.name}.safetensors"


def get_feature_extractor(config: FeatureNetConfig = FeatureNetConfig(), *, retrain: bool = False,
                          data_dir: str | None = None, log=None) -> ClassifierFeatures:
    """The cached feature network for ``config``, training (and caching) it first if needed.

    The training/test split comes from ``genzoo.data`` (``config.data`` with ``config.data_seed`` and
    :meth:`FeatureNetConfig.data_options`, read from ``data_dir`` when given; the folder is not part
    of the cache key). The network trains on the training split only; the test split gives the
    reported accuracy."""
    path = feature_net_path(config)
    if path.is_file() and not retrain:
        net, meta = load_feature_net(path)
        return ClassifierFeatures(net, accuracy=meta["test_accuracy"])
    options = {**config.data_options(), **({"data_dir": data_dir} if data_dir else {})}
    x_tr, y_tr = labelled_split(config.data, "train", seed=config.data_seed, **options)
    x_te, y_te = labelled_split(config.data, "test", seed=config.data_seed, **options)
    if log is not None:
        log(f"training feature network {config.name} on {len(x_tr)} images -> {path}")
    net, acc = train_feature_net(x_tr, y_tr, x_te, y_te, config, log=log)
    save_feature_net(net, path, accuracy=acc)
    net, meta = load_feature_net(path)
    return ClassifierFeatures(net, accuracy=meta["test_accuracy"])


def emoji_classifier(*, vendor: str = "google", data_dir: str | None = None, data_seed: int = 0,
                     seed: int = 0, log=None) -> ClassifierFeatures:
    """The emoji category classifier (3 channels, 32x32, trained on the ``data_seed`` split's
    training images of ``vendor``), cached like every feature network.

    ``ext = emoji_classifier(data_dir=...)``; ``ext.predict(x)`` gives the category index (N,) of
    images ``x`` (N, 3, H, W) in [0, 1] (any H, W: resized to 32), in the order of the dataset's
    sorted category names; ``ext(x)`` the 128-d features, ``ext.probs(x)`` the softmax,
    ``ext.accuracy`` the test-split accuracy."""
    return get_feature_extractor(FeatureNetConfig(data="emoji", vendor=vendor, data_seed=data_seed, seed=seed),
                                 data_dir=data_dir, log=log)


# ------------------------------------------------------------------------------------ data glue


def split_tensors(dataset, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(images, labels or None) of one split ("train", "valid", "test") of a loaded
    ``genzoo.data`` dataset (``dataset.<split>.x`` / ``.y``)."""
    part = getattr(dataset, split, None)
    if part is None or not hasattr(part, "x"):
        raise ValueError(f"dataset has no split {split!r}")
    y = getattr(part, "y", None)
    return part.x.float(), (None if y is None else torch.as_tensor(y).long())


def labelled_split(data, split: str, **config) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of ``split`` ("train", "valid", "test") of a genzoo dataset, given by name,
    by a ``DataConfig``, or as a dict of DataConfig fields (the ``"data"`` entry of config.json)."""
    from genzoo.data import DataConfig, load_dataset

    if isinstance(data, str):
        cfg = DataConfig(name=data, **config)
    elif isinstance(data, dict):
        cfg = from_dict(DataConfig, {**data, **config})
    else:
        cfg = data
    x, y = split_tensors(load_dataset(cfg), split)
    if y is None:
        raise ValueError(f"dataset {getattr(cfg, 'name', cfg)!r} has no labels")
    return x, y
