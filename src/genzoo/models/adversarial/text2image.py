"""Text-to-image GAN (Reed et al., 2016, "Generative Adversarial Text to Image Synthesis"), GAN-CLS
and GAN-INT.

A text encoder gives phi(t) (B, text_dim); the generator maps [z, phi(t)] to an image (DCGAN
generator, Sec. 3.1) and the discriminator replicates phi(t) over its last conv feature map,
depth-concatenates and applies a 1x1 conv before the score (Sec. 3.1). The ``gan-cls`` objective
trains D to tell real/matching from real/mismatching and fake/matching pairs (Algorithm 1), the
text encoder with D, and adds GAN-INT's term on interpolated embeddings to G's loss (Sec. 4.3).

Where the captions come from (``captions``):

* ``data``: the dataset's own captions, ``batch["text"]`` (emoji: name and short names, e.g.
  "grinning face (grinning)"); set automatically when the training data have captions. The
  learned encoder's vocabulary is every word of the *training* captions (:meth:`Text2ImageConfig.fit_to_data`),
  saved in config.json; unknown words at sample time map to ``<unk>`` plus their hashed character
  trigrams (:class:`genzoo.nn.text.WordTextEncoder`), so a new name is drawn, not refused.
* ``digits``: captions written from a digit's label and measured attributes (:mod:`.captions`),
  e.g. "a thick, slanted seven" -- a closed vocabulary, so an unknown word is refused with the list.
  The caption thresholds default to the 1/3 and 2/3 quantiles of the attributes on mnist5k's
  training split (thickness 1.75 / 2.15 px, |slant| 0.13, slant 0.26, box area 0.35 / 0.41).

The text encoder is a plug-in (:class:`genzoo.nn.text.TextEncoder`: texts -> (n, D) tensor). To use
a pretrained sentence embedder you already have, pass it in Python -- nothing is downloaded::

    st = SentenceTransformer("/path/to/local/model")           # any callable texts -> (n, D)
    embed = lambda texts: st.encode(texts, convert_to_tensor=True)
    cfg = Text2ImageConfig(text_encoder=embed, text_encoder_dim=384)   # recorded by name
    genzoo.train("text2image", model_config=cfg, data_config=DataConfig(name="emoji", size=32), ...)
    model = genzoo.load(run_dir, text_encoder=embed)             # loading needs the same object

The embedder stays frozen; a learned linear layer maps its vectors to ``text_dim``. ``genzoo
train text2image --text-encoder module:function`` imports a function typed on its command line.

``sample(n, condition="red apple")`` draws n images for one caption (or a list of n captions);
``condition=None`` draws random captions (digits: random labels and words; data: uniformly among
``example_captions``, a fixed set of training captions saved with the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from genzoo import code
from genzoo.config import field
from genzoo.data.transforms import to_unit
from genzoo.models.adversarial import captions
from genzoo.models.adversarial._nets import (
    GAN_TRAINING,
    AdversarialConfig,
    Discriminator,
    ImplicitModel,
    build_generator,
    check_count,
    randint,
    randn,
)
from genzoo.nn.text import ExternalTextEncoder, WordTextEncoder, build_vocabulary, check_texts
from genzoo.registry import register_model

CAPTION_SOURCES = ("digits", "data")
#: the closed vocabulary of the digit captions ("an" as in "an upright eight")
DIGIT_WORDS = ("a", "an", *captions.VOCAB[2:])
EXAMPLE_CAPTIONS = 64


@dataclass(frozen=True)
class Text2ImageConfig(AdversarialConfig):
    arch: str = field("conv", help="network type of G and D", choices=("mlp", "conv"))
    g_hidden: tuple[int, ...] = field((256, 512), help="MLP generator hidden sizes")
    d_hidden: tuple[int, ...] = field((512, 256), help="MLP discriminator hidden sizes")
    width: int = field(64, help="conv nets: channels of the first D layer / last G layer")
    word_dim: int = field(32, help="size of the word embeddings")
    text_dim: int = field(32, help="size of the text embedding phi(t) fed to G and D")
    captions: str = field("digits", help="caption source: digits (written from a digit's label and attributes) "
                          "or data (the dataset's own, e.g. emoji names; chosen automatically when the data "
                          "have captions)", choices=CAPTION_SOURCES)
    vocabulary: tuple[str, ...] = field((), help="captions=data: the learned encoder's words (default: every "
                                        "word of the training captions, set by genzoo train)")
    char_buckets: int = field(2048, help="captions=data: hashed character-trigram buckets that give every word, "
                              "known or not, a subword vector (fastText; 0: unknown words share one <unk>)")
    example_captions: tuple[str, ...] = field((), help="captions=data: the captions sample() draws from when "
                                              f"given none (default: {EXAMPLE_CAPTIONS} training captions)")
    text_encoder: str | None = field(None, help="a pretrained sentence embedder 'module:function' (texts -> "
                                     "(n, D) tensor) in place of the learned encoder; in Python the callable "
                                     "itself may be given (recorded by name, never imported by a loader)")
    text_encoder_dim: int = field(0, help="with --text-encoder: D, the size of the vectors it returns")
    thin_below: float = field(1.75, help="caption 'thin' below this stroke width (pixels)")
    thick_above: float = field(2.15, help="caption 'thick' above this stroke width (pixels)")
    upright_below: float = field(0.13, help="caption 'upright' when |slant| is below this")
    slanted_above: float = field(0.26, help="caption 'slanted' when slant is above this")
    small_below: float = field(0.35, help="caption 'small' below this bounding-box area fraction")
    large_above: float = field(0.41, help="caption 'large' above this bounding-box area fraction")

    def __post_init__(self):
        super().__post_init__()
        if callable(self.text_encoder):  # an embedder given in code: trust it, record its name
            object.__setattr__(self, "text_encoder", code.register(self.text_encoder))
        if self.text_encoder is not None and self.text_encoder_dim < 1:
            raise ValueError("text_encoder needs text_encoder_dim, the size of the vectors it returns")
        if self.char_buckets < 0:
            raise ValueError(f"char_buckets must be >= 0, got {self.char_buckets}")
        if self.captions == "data" and self.text_encoder is None and not self.vocabulary and not self.char_buckets:
            raise ValueError("captions=data needs a vocabulary (genzoo train builds it from the training captions), "
                             "char_buckets > 0 or a text_encoder")

    @property
    def thresholds(self) -> captions.Thresholds:
        return captions.Thresholds(self.thin_below, self.thick_above, self.upright_below,
                                   self.slanted_above, self.small_below, self.large_above)

    def fit_to_data(self, data, given: frozenset[str] = frozenset()) -> Text2ImageConfig:
        """The data-derived fields (called by :func:`genzoo.training.run.fit_config_to_data`, except
        for the options in ``given``): captions=data when the training split has captions
        (``data.train.text``), the vocabulary from the *training* captions only, and example captions."""
        text = getattr(data.train, "text", None)
        changes: dict = {}
        if text is not None and "captions" not in given:
            changes["captions"] = "data"
        if changes.get("captions", self.captions) != "data":
            return replace(self, **changes)
        if text is None:
            raise ValueError("text2image --captions data: these data have no captions (emoji have)")
        if "vocabulary" not in given and self.text_encoder is None:
            changes["vocabulary"] = build_vocabulary(text)
        if "example_captions" not in given:
            unique = list(dict.fromkeys(text))
            step = max(1, len(unique) // EXAMPLE_CAPTIONS)
            changes["example_captions"] = tuple(unique[::step][:EXAMPLE_CAPTIONS])
        return replace(self, **changes)


@register_model("text2image", config=Text2ImageConfig, objectives=("gan-cls",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="text-to-image GAN-CLS/GAN-INT (Reed 2016) on emoji names or digit captions")
class Text2Image(ImplicitModel):
    condition_type = "text"
    code_arguments = ("text_encoder",)

    def __init__(self, config: Text2ImageConfig, *, text_encoder: Callable | None = None):
        """``text_encoder``: the pretrained embedder named by ``config.text_encoder`` (default: the one
        trusted in this process under that name; a name read from a file is never imported)."""
        super().__init__(config)
        c = config
        self.num_classes = len(captions.DIGITS) if c.captions == "digits" else 0
        if c.text_encoder is not None:
            fn = text_encoder if text_encoder is not None else code.trusted(c.text_encoder, "text_encoder")
            self.text_encoder = ExternalTextEncoder(fn, c.text_encoder_dim, c.text_dim)
        elif c.captions == "digits":
            self.text_encoder = WordTextEncoder(DIGIT_WORDS, c.word_dim, c.text_dim, strict=True)
        else:
            self.text_encoder = WordTextEncoder(c.vocabulary, c.word_dim, c.text_dim, buckets=c.char_buckets)
        self.generator = build_generator(c.arch, c.noise_dim + c.text_dim, c.shape, c.g_hidden, c.width)
        self.discriminator = Discriminator(c.shape, arch=c.arch, hidden=c.d_hidden, width=c.width,
                                           cond_dim=c.text_dim, spectral_norm=c.spectral_norm)

    @classmethod
    def code_fields(cls, config: Text2ImageConfig) -> dict[str, str]:
        return {"text_encoder": config.text_encoder} if config.text_encoder is not None else {}

    def discriminator_parameters(self):
        return [*self.discriminator.parameters(), *self.text_encoder.parameters()]

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The words the learned encoder knows (empty with a pretrained embedder)."""
        return getattr(self.text_encoder, "vocabulary", ())

    def describe(self, x: torch.Tensor, y: torch.Tensor) -> list[str]:
        """Digit captions of data-space images x with labels y (``captions="digits"``)."""
        if self.config.captions != "digits":
            raise ValueError("this text2image model reads its captions from the data; it writes none")
        return captions.describe(to_unit(x, self.config.data_range), y, self.config.thresholds)

    def captions_for(self, batch: dict) -> list[str]:
        """The captions of a training batch: ``batch["text"]`` (captions=data), or written from the
        images and ``batch["y"]`` (captions=digits)."""
        if self.config.captions == "data":
            text = batch.get("text")
            if text is None:
                raise ValueError("text2image (captions=data) needs each example's caption in batch['text'] "
                                 "(data with captions: emoji)")
            return check_texts(text, "batch['text']")
        if batch.get("y") is None:
            raise ValueError("text2image writes digit captions from the labels: the data must provide batch['y']")
        return self.describe(batch["x"], batch["y"])

    def embed_text(self, texts) -> torch.Tensor:
        """phi(t): (B, text_dim) for B captions."""
        return self.text_encoder(texts)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return randn((n, self.config.noise_dim), generator, self.device)

    def generate(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([z, h], dim=1))  # (B, C, H, W)

    def discriminate(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.from_data(x), h)  # (B,)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.discriminate(x, h)

    def random_captions(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        """n random captions: digits -- uniform label, each adjective slot uniform over {first,
        second, none}; data -- uniformly among ``config.example_captions``."""
        if self.config.captions == "digits":
            return captions.detokenize(captions.random_tokens(n, generator))
        pool = self.config.example_captions
        if not pool:
            raise ValueError("this text2image model has no example captions to draw from: give condition=")
        return [pool[i] for i in randint(len(pool), (n,), generator, torch.device("cpu")).tolist()]

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition=None,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
        """The generator input [z, phi(t)] for caption ``condition`` (one string, a list of n
        strings, or None for random captions); ``noise`` (n, noise_dim) fixes z."""
        n = check_count(n)
        if condition is None:
            texts = self.random_captions(n, generator)
        else:
            texts = check_texts(condition, "the condition (caption)")
            if len(texts) == 1:
                texts = texts * n
            elif len(texts) != n:
                raise ValueError(f"the condition must be one caption or {n} captions, got {len(texts)}")
        z = self.noise(n, generator) if noise is None else noise.to(self.device)
        return torch.cat([z, self.embed_text(texts)], dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """n images for caption(s) ``condition`` (None: random captions); ``noise`` fixes z."""
        return self.decode(self.draw_latent(n, generator=generator, condition=condition, noise=noise))
