"""Text-to-image from the data's own captions (emoji names): the learned text encoder (vocabulary
from the training captions only, unknown words, exact output), its save/load round trip through
config.json + model.safetensors, GAN-CLS/GAN-INT losses of a real model against a direct
computation, and `genzoo train text2image` + `genzoo sample --text` on a tiny emoji package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import genzoo
from genzoo.cli.main import main
from genzoo.data import DataConfig, load_dataset
from genzoo.nn.text import PAD, UNK, ExternalTextEncoder, WordTextEncoder, build_vocabulary, trigrams, words
from genzoo.objectives.adversarial import GANCLSConfig, GANCLSObjective
from genzoo.registry import get_model
from genzoo.training.run import fit_config_to_data

#: (name, short names, category, colour): 16 base emoji in 3 categories, flat colours per category
NAMES = [
    ("red apple", ["apple"], "Food", (220, 30, 30)),
    ("green apple", ["green_apple"], "Food", (220, 30, 30)),
    ("banana", ["banana"], "Food", (220, 30, 30)),
    ("cherries", ["cherries"], "Food", (220, 30, 30)),
    ("red car", ["car"], "Travel", (30, 30, 220)),
    ("blue car", ["blue_car"], "Travel", (30, 30, 220)),
    ("bus", ["bus"], "Travel", (30, 30, 220)),
    ("train", ["train2"], "Travel", (30, 30, 220)),
    ("grinning face", ["grinning"], "Smileys", (240, 200, 40)),
    ("smiling face", ["smile"], "Smileys", (240, 200, 40)),
    ("crying face", ["cry"], "Smileys", (240, 200, 40)),
    ("sleeping face", ["sleeping"], "Smileys", (240, 200, 40)),
    ("angry face", ["angry"], "Smileys", (240, 200, 40)),
    ("red heart", ["heart"], "Smileys", (240, 200, 40)),
    ("taxi", ["taxi"], "Travel", (30, 30, 220)),
    ("pear", ["pear"], "Food", (220, 30, 30)),
]


@pytest.fixture(scope="module")
def names_dir(tmp_path_factory) -> Path:
    """The emoji-datasource layout (emoji.json + img/google/64/*.png) for NAMES."""
    root = tmp_path_factory.mktemp("emoji-names")
    records = []
    folder = root / "img" / "google" / "64"
    folder.mkdir(parents=True)
    for i, (name, shorts, category, colour) in enumerate(NAMES):
        uid = f"1F{i:03X}"
        records.append({"name": name.upper(), "unified": uid, "image": f"{uid.lower()}.png",
                        "short_names": shorts, "category": category, "has_img_google": True})
        img = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
        img.paste((*colour, 255), (8 + i, 8, 40 + i, 56))  # a coloured block that moves with i
        img.save(folder / f"{uid.lower()}.png")
    (root / "emoji.json").write_text(json.dumps(records))
    return root


def _data(names_dir, **kw):
    return DataConfig(name="emoji", data_dir=str(names_dir), size=16, **kw)


def test_vocabulary_comes_from_the_training_captions_only(names_dir):
    cfg = _data(names_dir)
    data = load_dataset(cfg)
    assert len(data.train.text) == len(data.train) and len(data.test.text) == len(data.test)
    assert data.train.text[0] in {f"{n} ({', '.join(s)})" for n, s, _, _ in NAMES}
    model_cfg = fit_config_to_data(get_model("text2image").default_config(), data, cfg)
    assert model_cfg.captions == "data"
    assert model_cfg.vocabulary == build_vocabulary(data.train.text)
    train_words = {w for t in data.train.text for w in words(t)}
    held_out = {w for t in (*data.valid.text, *data.test.text) for w in words(t)} - train_words
    assert held_out and set(model_cfg.vocabulary) == train_words  # no held-out word leaks in
    assert set(model_cfg.example_captions) <= set(data.train.text)
    # --limit keeps captions aligned with the images it keeps
    limited = load_dataset(_data(names_dir, limit=3))
    assert limited.train.text == data.train.text[:3]


def test_build_vocabulary_orders_by_count_then_alphabet():
    texts = ["Red apple (apple)", "green apple", "red car", "Grinning_face"]
    assert build_vocabulary(texts) == ("apple", "red", "car", "face", "green", "grinning")
    assert build_vocabulary(reversed(texts)) == build_vocabulary(texts)
    assert build_vocabulary(texts, min_count=2) == ("apple", "red")
    assert build_vocabulary(texts, max_size=1) == ("apple",)
    assert words("Keycap: * (keycap_star), dark skin tone") == ["keycap", "keycap", "star", "dark", "skin", "tone"]


def test_word_encoder_output_by_hand_and_unknown_words():
    torch.manual_seed(0)
    enc = WordTextEncoder(("red", "apple"), 4, 3, buckets=16)
    e, bag = enc.words.weight, enc.grams.weight

    def word_vec(w):
        return e[enc.index.get(w, UNK)] + bag[trigrams(w, 16)].mean(0)

    want = enc.proj(torch.stack([(word_vec("red") + word_vec("apple") + word_vec("zebra")) / 3]))
    assert torch.allclose(enc(["Red apple, zebra"]), want, atol=1e-6)
    assert enc(["red apple", "zebra"]).shape == (2, 3)  # unknown words: no error
    assert not torch.allclose(enc(["zebra"]), enc(["cactus"]))  # their trigrams tell them apart
    plain = WordTextEncoder(("red",), 4, 3)  # no buckets: every unknown word is <unk>
    assert torch.equal(plain(["zebra"]), plain(["cactus"]))
    assert torch.equal(plain([""]), plain(["zebra"]))  # an empty caption is one <unk>
    assert torch.equal(plain.words.weight[PAD], torch.zeros(4))
    strict = WordTextEncoder(("a", "two"), 4, 3, strict=True)
    with pytest.raises(ValueError, match=r"unknown word\(s\) 'purple'.*vocabulary is: a two"):
        strict(["a purple two"])
    with pytest.raises(ValueError, match="distinct lower-case words"):
        WordTextEncoder(("Red",), 4, 3)


def _names_model(**kw):
    entry = get_model("text2image")
    cfg = entry.config_cls(shape=(3, 16, 16), captions="data", vocabulary=("red", "apple", "car", "face"),
                           char_buckets=32, example_captions=("red apple", "red car"), noise_dim=4, width=4,
                           word_dim=4, text_dim=4, **kw)
    torch.manual_seed(0)
    return entry.model_cls(cfg)


def test_save_load_round_trip_keeps_vocabulary_and_embeddings(tmp_path):
    model = _names_model().eval()
    texts = ["red apple", "blue zebra", "face"]
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["model_config"]
    assert saved["vocabulary"] == ["red", "apple", "car", "face"] and saved["char_buckets"] == 32
    back = genzoo.load(tmp_path / "m")
    assert back.vocabulary == model.vocabulary
    assert torch.equal(back.embed_text(texts), model.embed_text(texts))
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(back.sample(3, condition=texts, noise=z), model.sample(3, condition=texts, noise=z))


def test_sample_takes_one_caption_n_captions_or_none():
    model = _names_model().eval()
    g = torch.Generator().manual_seed(0)
    assert model.sample(5, condition="unseen words here", generator=g).shape == (5, 3, 16, 16)
    assert model.sample(2, condition=["red apple", "red car"], generator=g).shape == (2, 3, 16, 16)
    assert model.sample(3, generator=g).shape == (3, 3, 16, 16)  # random example captions
    with pytest.raises(ValueError, match="one caption or 3 captions"):
        model.sample(3, condition=["a", "b"])
    with pytest.raises(ValueError, match="string or a list of strings"):
        model.sample(3, condition=7)


def test_pretrained_embedder_plugs_in_and_is_needed_to_load(tmp_path):
    def embedder(texts):  # a stand-in for a user's sentence embedder: (n, 5), fixed per text
        return torch.stack([torch.full((5,), float(len(t))) for t in texts])

    entry = get_model("text2image")
    cfg = entry.config_cls(shape=(3, 16, 16), captions="data", text_encoder=embedder, text_encoder_dim=5,
                           noise_dim=4, width=4, text_dim=4)
    model = entry.model_cls(cfg).eval()
    assert isinstance(model.text_encoder, ExternalTextEncoder)
    assert not any("_fn" in k for k in model.state_dict())  # the embedder is not saved with the model
    want = F.leaky_relu(model.text_encoder.proj[0](embedder(["abc"])), 0.2)
    assert torch.allclose(model.embed_text(["abc"]), want)
    model.save_pretrained(tmp_path / "m")
    back = genzoo.load(tmp_path / "m", text_encoder=embedder)
    assert torch.equal(back.embed_text(["abc", "de"]), model.embed_text(["abc", "de"]))
    # a run whose config names an embedder this process was not given: a one-line refusal, no import
    config_file = tmp_path / "m" / "config.json"
    info = json.loads(config_file.read_text())
    info["model_config"]["text_encoder"] = "somewhere_else.embedders:encode"
    config_file.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="text_encoder 'somewhere_else.embedders:encode' names Python code"):
        genzoo.load(tmp_path / "m")
    bad = entry.model_cls(cfg, text_encoder=lambda texts: torch.zeros(len(texts), 3))
    with pytest.raises(ValueError, match=r"returned shape \(1, 3\) for 1 texts, expected \(1, 5\)"):
        bad.embed_text(["abc"])


def test_gan_cls_and_gan_int_losses_of_a_real_model_against_a_direct_computation():
    model = _names_model().eval()  # eval: batch norm uses its running statistics, so every call is exact
    batch = {"x": torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2)),
             "text": ["red apple", "red car", "face", "blue face"]}
    obj = GANCLSObjective(GANCLSConfig(label_smoothing=0.1, interpolation_weight=0.7))
    with torch.no_grad():
        d = obj(model, batch, player="discriminator", generator=torch.Generator().manual_seed(5))
        g = obj(model, batch, player="generator", generator=torch.Generator().manual_seed(5))
        gen = torch.Generator().manual_seed(5)
        z, z_int = model.noise(4, gen), model.noise(4, gen)
        h = model.embed_text(batch["text"])
        h_wrong = h[[3, 0, 1, 2]]  # the captions rolled by one
        s_r = model.discriminate(batch["x"], h).double()
        s_w = model.discriminate(batch["x"], h_wrong).double()
        s_f = model.discriminate(model.generate(z, h), h).double()
        h_int = 0.5 * h + 0.5 * h_wrong
        s_i = model.discriminate(model.generate(z_int, h_int), h_int).double()
    sig = torch.sigmoid
    want_d = -(0.9 * torch.log(sig(s_r)) + 0.1 * torch.log(1 - sig(s_r))) \
        - 0.5 * (torch.log(1 - sig(s_w)) + torch.log(1 - sig(s_f)))
    want_g = -torch.log(sig(s_f)) - 0.7 * torch.log(sig(s_i))
    assert torch.allclose(d["loss"].double(), want_d, rtol=1e-5, atol=1e-6)
    assert torch.allclose(g["loss"].double(), want_g, rtol=1e-5, atol=1e-6)
    assert torch.allclose(d["d_mismatch"].double(), sig(s_w), atol=1e-6)


def test_data_captions_are_required_and_config_is_checked():
    model = _names_model()
    with pytest.raises(ValueError, match=r"batch\['text'\]"):
        GANCLSObjective()(model, {"x": torch.rand(2, 3, 16, 16)}, player="discriminator")
    entry = get_model("text2image")
    with pytest.raises(ValueError, match="text_encoder_dim"):
        entry.config_cls(shape=(3, 16, 16), text_encoder="pkg.mod:fn")
    with pytest.raises(ValueError, match="interpolation_beta"):
        GANCLSConfig(interpolation_beta=1.5)


def test_train_and_sample_text_end_to_end(names_dir, tmp_path, capsys):
    run = tmp_path / "t2i"
    assert main(["train", "text2image", "--data", "emoji", "--data-dir", str(names_dir), "--size", "16",
                 "--noise-dim", "4", "--width", "4", "--word-dim", "4", "--text-dim", "4", "--char-buckets", "16",
                 "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--progress",
                 "false", "--sample-every", "1", "--out", str(run)]) == 0
    info = json.loads((run / "config.json").read_text())
    assert info["model_config"]["captions"] == "data" and "apple" in info["model_config"]["vocabulary"]
    out = tmp_path / "apple.png"
    assert main(["sample", str(run), "-n", "4", "--text", "red apple", "--out", str(out), "--device", "cpu"]) == 0
    with Image.open(out) as img:
        assert img.size[0] > 16
    # a caption of words never seen in training is drawn, not refused
    assert main(["sample", str(run), "-n", "2", "--text", "purple zebra", "--out", str(out), "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "2", "--label", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["genzoo: error: model 'text2image' does not take --label (it takes --text)"]
