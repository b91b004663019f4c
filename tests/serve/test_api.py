"""The app's API through HTTP on loopback: every endpoint, its answers checked against the library's
own results, and every refused input (path traversal, bad parameters, bad uploads)."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli.main import main
from genzoo.serve import adapter
from genzoo.serve.runs import BadRequest, NotFound, resolve_run
from genzoo.training.run import load_run_data


def get(base, path, **params):
    """(status, content type, body bytes) of a GET."""
    url = f"{base}{path}" + (("?" + urlencode(params)) if params else "")
    return request(urllib.request.Request(url))


def post(base, path, body: bytes, **params):
    url = f"{base}{path}?{urlencode(params)}"
    return request(urllib.request.Request(url, data=body, method="POST",
                                          headers={"Content-Type": "application/octet-stream"}))


def request(req):
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def ok_json(base, path, **params):
    status, ctype, body = get(base, path, **params)
    assert status == 200, body
    assert ctype == "application/json"
    return json.loads(body)


def error(status_body, status: int, words: str):
    s, ctype, body = status_body
    assert s == status, body
    assert ctype == "application/json"
    msg = json.loads(body)["error"]
    assert words in msg and "\n" not in msg
    return msg


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def png_array(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


def shown(runs_root, run: str, x: torch.Tensor) -> np.ndarray:
    """Data-space images as the app shows them: [0, 1] (data in [-1, 1] mapped, then clipped)."""
    scale = json.loads((runs_root / run / "config.json").read_text())["data"]["scale"]
    return ((x + 1) / 2 if scale == "pm1" else x).clamp(0, 1).detach().numpy()


@pytest.fixture(scope="module")
def test_x(runs_root):
    return load_run_data(runs_root / "vae2").test.x


# ---- pages and the runs table ---------------------------------------------------------------------
def test_page_and_static_files(base_url):
    status, ctype, body = get(base_url, "/")
    assert status == 200 and ctype.startswith("text/html") and b"/static/app.js" in body
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, ctype, body = get(base_url, f"/static/{name}")
        assert status == 200 and ctype.startswith(kind) and len(body) > 100
    error(get(base_url, "/static/../conftest.py"), 404, "no such file")
    error(get(base_url, "/static/nothing.js"), 404, "no such file")
    error(get(base_url, "/api/nothing"), 404, "no such page")
    error(get(base_url, "/api/translate"), 405, "method not allowed")


def test_runs_table(base_url, runs_root):
    data = ok_json(base_url, "/api/runs")
    rows = {r["id"]: r for r in data["runs"]}
    assert {"vae2", "group/vae5", "ae1", "nade", "pixelcnn", "infogan", "cgan", "text2image", "dcgan", "cyclegan",
            "broken/noweights", "broken/unknown", "broken/badjson"} == set(rows)
    vae = rows["vae2"]
    with (runs_root / "vae2" / "metrics.csv").open() as f:
        metrics = list(csv.DictReader(f))
    assert vae["model"] == "vae" and vae["data"] == "digits" and vae["epochs"] == len(metrics) == 2
    assert vae["best_valid_loss"] == pytest.approx(min(float(m["valid_loss"]) for m in metrics), rel=1e-12)
    assert vae["train_seconds"] == pytest.approx(sum(float(m["seconds"]) for m in metrics))
    assert vae["evals"] == {"test": {"nll_nats": 30.5, "n": 10, "k": 5}}
    assert rows["broken/badjson"]["model"] is None


def test_run_details(base_url):
    run = ok_json(base_url, "/api/run", run="vae2")
    assert run["config"]["model"] == "vae" and run["config"]["model_config"]["latent_dim"] == 2
    assert run["metrics"]["epoch"] == [1.0, 2.0] and len(run["metrics"]["valid_loss"]) == 2
    assert "samples.png" in run["images"] and run["evals"]["test"]["nll_nats"] == 30.5
    assert "model.safetensors" not in run["files"] and "checkpoint.pt" not in run["files"]
    status, ctype, body = get(base_url, "/api/file", run="vae2", name="samples.png")
    assert status == 200 and ctype == "image/png" and body.startswith(b"\x89PNG")


@pytest.mark.parametrize("run,status,words", [
    ("../vae2", 400, "not a run id"), ("/etc", 400, "not a run id"), ("group/../vae2", 400, "not a run id"),
    ("group//vae5", 400, "not a run id"), ("vae2\x00", 400, "not a run id"), ("", 400, "missing parameter 'run'"),
    ("nosuchrun", 404, "no such run"), ("not-a-run", 404, "no such run"), ("group", 404, "no such run"),
])
def test_run_ids_that_leave_or_miss_the_root_are_refused(base_url, run, status, words):
    error(get(base_url, "/api/run", run=run), status, words)
    error(get(base_url, "/api/model", run=run), status, words)


@pytest.mark.parametrize("name,status,words", [
    ("../secret.txt", 400, "only plain file names"), ("model.safetensors", 400, "only .png, .json, .csv"),
    ("checkpoint.pt", 400, "only .png"), (".hidden.png", 400, "only plain file names"),
    ("nothing.png", 404, "not in this run"), ("", 400, "missing parameter 'name'"),
])
def test_file_names_are_checked(base_url, name, status, words):
    error(get(base_url, "/api/file", run="vae2", name=name), status, words)


def test_symlinks_out_of_the_root_are_refused(tmp_path, runs_root):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(runs_root / "vae2", target_is_directory=True)
    with pytest.raises(BadRequest, match="outside the served directory"):
        resolve_run(root, "link")
    with pytest.raises(NotFound):
        resolve_run(root, "missing")


# ---- models -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("run,views", [
    ("vae2", {"sample", "latent", "interpolate", "reconstruct", "anomaly"}),
    ("group/vae5", {"sample", "latent", "interpolate", "reconstruct", "anomaly"}),
    ("ae1", {"latent", "interpolate", "reconstruct", "anomaly"}),
    ("pixelcnn", {"sample", "stream", "logprob", "anomaly"}),
    ("nade", {"sample", "stream", "logprob", "anomaly"}),
    ("infogan", {"sample", "infogan", "anomaly"}),
    ("cgan", {"sample", "label"}),
    ("text2image", {"sample", "text"}),
    ("dcgan", {"sample", "anomaly"}),
    ("cyclegan", {"translate"}),
])
def test_model_views(base_url, run, views):
    info = ok_json(base_url, "/api/model", run=run)
    assert set(info["views"]) == views
    assert info["shape"] == [1, 8, 8]


VIEW_REQUESTS = {  # view -> (method, path, params) that exercises it with its defaults
    "sample": ("GET", "/api/sample", {}), "latent": ("GET", "/api/decode", {"plane": "0.1,0.2"}),
    "interpolate": ("GET", "/api/interpolate", {}), "reconstruct": ("GET", "/api/reconstruct", {}),
    "infogan": ("GET", "/api/sample", {"cat": 1, "c": "0,0"}), "label": ("GET", "/api/sample", {"label": 1}),
    "text": ("GET", "/api/sample", {"text": "a two"}), "stream": ("GET", "/api/stream", {}),
    "logprob": ("GET", "/api/logprob", {}), "translate": ("POST", "/api/translate", {}),
    "anomaly": ("POST", "/api/anomaly", {}),
}


def test_every_advertised_view_answers(base_url, test_x):
    for run in ok_json(base_url, "/api/runs")["runs"]:
        if run["id"].startswith("broken/"):
            continue
        for view in ok_json(base_url, "/api/model", run=run["id"])["views"]:
            method, path, params = VIEW_REQUESTS[view]
            if method == "GET":
                status, _, body = get(base_url, path, run=run["id"], **params)
            else:
                status, _, body = post(base_url, path, digit_png(test_x), run=run["id"], **params)
            assert status == 200, (run["id"], view, body[:300])


@pytest.mark.parametrize("run,words", [
    ("broken/noweights", "model.safetensors: no such file"), ("broken/unknown", "unknown model 'nosuchmodel'"),
    ("broken/badjson", "not valid JSON"),
])
def test_a_model_that_fails_to_load_answers_its_one_line_error(base_url, run, words):
    msg = error(get(base_url, "/api/model", run=run), 500, words)
    assert msg.startswith(f"could not load the model of run '{run}'")
    error(get(base_url, "/api/sample", run=run), 500, words)
    assert ok_json(base_url, "/api/run", run=run)["config"] is None or run != "broken/badjson"
    assert len(ok_json(base_url, "/api/runs")["runs"]) == 13  # still serving


def test_models_are_cached_with_a_bound(base_url, server):
    for run in ("vae2", "nade", "cgan", "dcgan", "infogan"):
        ok_json(base_url, "/api/model", run=run)
    loaded = server.app.cache.loaded()
    assert loaded == ["cgan", "dcgan", "infogan"]  # max_models=3, least recently used evicted


def test_a_run_whose_weights_change_is_loaded_again(tmp_path, runs_root):
    import os
    import shutil

    from genzoo.serve.cache import ModelCache

    run = tmp_path / "copy"
    shutil.copytree(runs_root / "vae2", run)
    cache = ModelCache(2)
    first = cache.get("copy", run)
    assert cache.get("copy", run) is first
    st = (run / "model.safetensors").stat()
    os.utime(run / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as a trainer rewriting it
    second = cache.get("copy", run)
    assert second is not first and cache.loaded() == ["copy"]


# ---- latent views -----------------------------------------------------------------------------------
def decode_json(base, **params):
    return np.array(ok_json(base, "/api/decode", format="json", **params)["values"])


def test_decode_matches_the_model(base_url, runs_root):
    model = genzoo.load(runs_root / "vae2")
    z = torch.tensor([[0.5, -1.25]])
    expected = model.decode(z).detach().numpy()
    np.testing.assert_allclose(decode_json(base_url, run="vae2", z="0.5,-1.25"), expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(decode_json(base_url, run="vae2", plane="0.5,-1.25"),
                                  decode_json(base_url, run="vae2", z="0.5,-1.25"))
    status, ctype, body = get(base_url, "/api/decode", run="vae2", z="0.5,-1.25")
    assert status == 200 and ctype == "image/png"
    np.testing.assert_array_equal(png_array(body), np.round(expected[0, 0] * 255).astype(np.uint8))


def test_plane_of_a_wider_latent_is_spanned_by_principal_directions(base_url, runs_root):
    codes = ok_json(base_url, "/api/codes", run="group/vae5")
    assert codes["mode"] == "pca" and len(codes["basis"]) == 2 and len(codes["basis"][0]) == 5
    basis = np.array(codes["basis"])
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-5)
    dirs, scales = np.array(codes["directions"]), np.array(codes["scales"])
    assert dirs.shape == (5, 5) and np.all(np.diff(scales) <= 0)
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(5), atol=1e-5)
    np.testing.assert_array_equal(dirs[:2], basis)
    xy = np.array(codes["xy"])
    np.testing.assert_allclose(xy.std(0, ddof=1), scales[:2], rtol=1e-4)  # the spread along each direction
    z = np.array(codes["mean"]) + 0.7 * basis[0] - 0.2 * basis[1]
    np.testing.assert_allclose(decode_json(base_url, run="group/vae5", plane="0.7,-0.2"),
                               decode_json(base_url, run="group/vae5", z=",".join(f"{v:.9g}" for v in z)), atol=1e-6)


def test_a_one_dimensional_latent_lies_on_the_planes_first_axis(base_url, runs_root):
    codes = ok_json(base_url, "/api/codes", run="ae1")
    assert codes["mode"] == "latent" and codes["basis"] == [[1.0], [0.0]]
    assert all(b == 0.0 for _, b in codes["xy"])
    np.testing.assert_array_equal(decode_json(base_url, run="ae1", plane="0.3,2"),
                                  decode_json(base_url, run="ae1", z="0.3"))


def test_codes_and_encode(base_url, runs_root, test_x):
    model = genzoo.load(runs_root / "vae2")
    codes = ok_json(base_url, "/api/codes", run="vae2")
    expected = model.encode(test_x[:5]).detach().numpy()
    assert codes["mode"] == "latent" and len(codes["xy"]) == len(codes["labels"]) == len(test_x)
    np.testing.assert_allclose(np.array(codes["xy"][:5]), expected, atol=1e-6)
    enc = ok_json(base_url, "/api/encode", run="vae2", index=3)
    np.testing.assert_allclose(enc["z"], model.encode(test_x[3:4])[0].detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("params,status,words", [
    ({"z": "1"}, 400, "needs 2 numbers, got 1"), ({"z": "1,2,3"}, 400, "needs 2 numbers"),
    ({"z": "1,nan"}, 400, "finite"), ({"z": "1,1e9"}, 400, "at most 1000"), ({"z": "a,b"}, 400, "comma-separated"),
    ({}, 400, "missing parameter 'plane'"), ({"plane": "1"}, 400, "needs 2 numbers"),
    ({"z": "1,2", "format": "gif"}, 400, "png or json"),
])
def test_decode_refuses_bad_codes(base_url, params, status, words):
    error(get(base_url, "/api/decode", run="vae2", **params), status, words)


def test_test_images(base_url, test_x):
    status, ctype, body = get(base_url, "/api/test_image", run="vae2", index=7)
    assert status == 200 and ctype == "image/png"
    np.testing.assert_array_equal(png_array(body), (test_x[7, 0].numpy() * 255).round().astype(np.uint8))
    out = ok_json(base_url, "/api/test_image", run="vae2", index=7, format="json")
    assert out["label"] is not None and np.array(out["values"]).shape == (1, 1, 8, 8)


def test_views_a_model_lacks_answer_422(base_url):
    error(get(base_url, "/api/decode", run="dcgan", z="1,2"), 422, "has no 'latent' view")
    error(get(base_url, "/api/stream", run="vae2"), 422, "has no 'stream' view")
    error(get(base_url, "/api/logprob", run="cgan"), 422, "has no 'logprob' view")
    error(get(base_url, "/api/sample", run="vae2", label=1), 422, "has no 'label' view")
    error(get(base_url, "/api/sample", run="cgan", text="a two"), 422, "has no 'text' view")
    error(get(base_url, "/api/sample", run="cgan", cat=1), 422, "has no 'infogan' view")
    error(get(base_url, "/api/sample", run="cyclegan"), 422, "has no 'sample' view")


def test_interpolation_and_reconstruction(base_url, runs_root, test_x):
    model = genzoo.load(runs_root / "vae2")
    out = ok_json(base_url, "/api/interpolate", run="vae2", a=1, b=4, steps=4, format="json")
    v = np.array(out["values"])
    assert v.shape == (4, 1, 8, 8)
    np.testing.assert_allclose(v[0], model.reconstruct(test_x[1:2])[0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(v[-1], model.reconstruct(test_x[4:5])[0].detach().numpy(), atol=1e-6)
    rec = np.array(ok_json(base_url, "/api/reconstruct", run="vae2", index=2, format="json")["values"])
    np.testing.assert_array_equal(rec[0], test_x[2].numpy())
    error(get(base_url, "/api/interpolate", run="vae2", a=0, b=1, steps=1), 400, "'steps' must lie in [2, 32]")
    error(get(base_url, "/api/interpolate", run="vae2", a=0, b=10**6), 400, "'b' must lie in")
    error(get(base_url, "/api/reconstruct", run="vae2", index="x"), 400, "must be an integer")
    error(get(base_url, "/api/test_image", run="vae2", index=-1), 400, "'index' must lie in")


# ---- sampling ---------------------------------------------------------------------------------------
def test_samples_are_seeded_per_request(base_url, runs_root):
    a = get(base_url, "/api/sample", run="dcgan", seed=5, n=4)[2]
    assert a == get(base_url, "/api/sample", run="dcgan", seed=5, n=4)[2]
    assert a != get(base_url, "/api/sample", run="dcgan", seed=6, n=4)[2]
    model = genzoo.load(runs_root / "dcgan")
    expected = model.sample(4, generator=torch.Generator().manual_seed(5))
    got = np.array(ok_json(base_url, "/api/sample", run="dcgan", seed=5, n=4, format="json")["values"])
    np.testing.assert_allclose(got, shown(runs_root, "dcgan", expected), atol=1e-6)
    error(get(base_url, "/api/sample", run="dcgan", n=0), 400, "'n' must lie in [1, 64]")
    error(get(base_url, "/api/sample", run="dcgan", seed=-1), 400, "'seed' must lie in")


def test_concurrent_requests_give_each_seed_its_own_sample(base_url):
    seeds = [1, 2, 3, 1, 2, 3, 1, 2] * 2
    serial = {s: get(base_url, "/api/sample", run="cgan", seed=s, n=8, label=s)[2] for s in set(seeds)}
    out = [None] * len(seeds)

    def worker(i):
        out[i] = get(base_url, "/api/sample", run="cgan", seed=seeds[i], n=8, label=seeds[i])[2]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(out[i] == serial[s] for i, s in enumerate(seeds))


def test_class_caption_and_infogan_conditions(base_url, runs_root):
    cgan = genzoo.load(runs_root / "cgan")
    got = np.array(ok_json(base_url, "/api/sample", run="cgan", seed=2, n=3, label=7, format="json")["values"])
    exp = cgan.sample(3, generator=torch.Generator().manual_seed(2), label=7)
    np.testing.assert_allclose(got, shown(runs_root, "cgan", exp), atol=1e-6)
    error(get(base_url, "/api/sample", run="cgan", label=10), 400, "'label' must lie in [0, 9]")

    t2i = genzoo.load(runs_root / "text2image")
    got = np.array(ok_json(base_url, "/api/sample", run="text2image", seed=1, n=2, text="a thin two",
                           format="json")["values"])
    exp = t2i.sample(2, generator=torch.Generator().manual_seed(1), text="a thin two")
    np.testing.assert_allclose(got, shown(runs_root, "text2image", exp), atol=1e-6)
    error(get(base_url, "/api/sample", run="text2image", text="a purple two"), 400, "unknown word(s) 'purple'")
    error(get(base_url, "/api/sample", run="text2image", text=""), 400, "empty caption")
    error(get(base_url, "/api/sample", run="text2image", text="a " * 150), 400, "longer than 200")

    ig = genzoo.load(runs_root / "infogan")
    got = ok_json(base_url, "/api/sample", run="infogan", seed=4, cat=3, c="0.5,-1.5", format="json")["values"]
    got = np.array(got)
    z, _, _ = ig.latents(1, torch.Generator().manual_seed(4))
    exp = ig.generate(z, torch.tensor([3]), torch.tensor([[0.5, -1.5]]))
    np.testing.assert_allclose(got, shown(runs_root, "infogan", exp), atol=1e-6)
    moved = ok_json(base_url, "/api/sample", run="infogan", seed=4, cat=3, c="0.5,1.5", format="json")["values"]
    assert not np.array_equal(got, np.array(moved))
    error(get(base_url, "/api/sample", run="infogan", cat=10, c="0,0"), 400, "'cat' must lie in [0, 9]")
    error(get(base_url, "/api/sample", run="infogan", cat=1, c="0"), 400, "needs 2 numbers")
    error(get(base_url, "/api/sample", run="infogan", cat=1, c="0,11"), 400, "at most 10")


# ---- autoregressive views ---------------------------------------------------------------------------
def read_events(body: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in body.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.parametrize("run", ["pixelcnn", "nade"])
def test_stream_reproduces_the_models_sample(base_url, runs_root, run):
    status, ctype, body = get(base_url, "/api/stream", run=run, seed=11)
    assert status == 200 and ctype == "text/event-stream"
    events = read_events(body)
    assert events[0] == ("start", {"height": 8, "width": 8, "channels": 1, "live": events[0][1]["live"]})
    rows = [d for e, d in events if e == "row"]
    assert [d["row"] for d in rows] == list(range(8)) and events[-1][0] == "done"
    image = np.array([d["values"] for d in rows]).transpose(1, 0, 2)  # (C, H, W)
    model = genzoo.load(runs_root / run)
    expected = model.sample(1, generator=torch.Generator().manual_seed(11))[0].numpy()
    np.testing.assert_array_equal(image, expected)


def test_stream_refuses_a_bad_seed(base_url):
    error(get(base_url, "/api/stream", run="pixelcnn", seed="x"), 400, "must be an integer")


def test_log_prob_map(base_url, runs_root):
    model = genzoo.load(runs_root / "pixelcnn")
    x = load_run_data(runs_root / "pixelcnn").test.x[3:4]
    out = ok_json(base_url, "/api/logprob", run="pixelcnn", index=3, format="json")
    lp = np.array(out["log_prob_nats"])
    assert lp.shape == (8, 8) and (lp <= 0).all()
    assert out["total_nats"] == pytest.approx(float(model.log_prob(x)[0].detach()), abs=1e-4)
    assert out["model_log_prob_nats"] == pytest.approx(out["total_nats"], abs=1e-4)
    status, ctype, body = get(base_url, "/api/logprob", run="pixelcnn", index=3)
    assert status == 200 and png_array(body).shape == (8, 8, 3)


# ---- uploads ----------------------------------------------------------------------------------------
def digit_png(test_x, i=0) -> bytes:
    return png_bytes((test_x[i, 0].numpy() * 255).round().astype(np.uint8))


def test_upload_reconstruction(base_url, runs_root, test_x):
    status, ctype, body = post(base_url, "/api/reconstruct", digit_png(test_x, 2), run="vae2", format="json")
    assert status == 200
    v = np.array(json.loads(body)["values"])
    np.testing.assert_array_equal(v[0], test_x[2].numpy())  # binarized upload round-trips
    model = genzoo.load(runs_root / "vae2")
    np.testing.assert_allclose(v[1], model.reconstruct(test_x[2:3])[0].detach().numpy(), atol=1e-6)
    big = png_bytes(np.zeros((30, 20), np.uint8))
    assert post(base_url, "/api/reconstruct", big, run="vae2", resize=1)[0] == 200
    rgb = png_bytes(np.zeros((8, 8, 3), np.uint8))
    assert post(base_url, "/api/reconstruct", rgb, run="vae2")[0] == 200


def huge_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("body,status,words", [
    (b"", 400, "empty upload"),
    (b"hello, not an image", 415, "not an image"),
    (png_bytes(np.zeros((30, 20), np.uint8)), 422, "image is 20x30 pixels; this model takes 8x8"),
    (png_bytes(np.arange(64, dtype=np.uint8).reshape(8, 8))[:-30], 415, "could not be decoded"),
    (b"\x89PNG" + b"\0" * (3 * 1024 * 1024), 413, "over the 2097152 byte limit"),
    ("huge", 413, "too large"),
], ids=["empty", "not-image", "wrong-size", "truncated", "too-many-bytes", "huge-dimensions"])
def test_bad_uploads_are_refused_and_the_server_keeps_serving(base_url, body, status, words):
    body = huge_png() if body == "huge" else body
    for path in ("/api/reconstruct", "/api/anomaly"):
        error(post(base_url, path, body, run="vae2"), status, words)
    assert get(base_url, "/api/runs")[0] == 200


def test_translate_upload(base_url, runs_root, test_x):
    model = genzoo.load(runs_root / "cyclegan")
    status, ctype, body = post(base_url, "/api/translate", digit_png(test_x, 0), run="cyclegan", direction="b2a")
    assert status == 200 and ctype == "image/png"
    x = torch.round(test_x[0:1] * 16) / 16  # the run's data have 17 levels
    exp = model.translate(x * 2 - 1 if model.config.data_range == "pm1" else x, "b2a").detach()
    exp = ((exp + 1) / 2 if model.config.data_range == "pm1" else exp).clamp(0, 1)
    np.testing.assert_allclose(png_array(body) / 255, exp[0, 0].numpy(), atol=1 / 255 + 1e-6)
    error(post(base_url, "/api/translate", digit_png(test_x), run="cyclegan", direction="up"), 400, "a2b or b2a")
    error(post(base_url, "/api/translate", digit_png(test_x), run="vae2"), 422, "has no 'translate' view")


def test_anomaly_score_of_an_upload(base_url, runs_root, test_x):
    status, _, body = post(base_url, "/api/anomaly", digit_png(test_x, 0), run="dcgan")
    out = json.loads(body)
    assert status == 200 and out["score"] == "disc" and out["reference_n"] == 200
    model = genzoo.load(runs_root / "dcgan")
    x = torch.round(test_x[0:1] * 16) / 16  # the run's data: 17 levels in [0, 1]
    name, [value] = adapter.anomaly_scores(model, x, None, 0, 20)
    assert out["value"] == pytest.approx(value, rel=1e-5) and 0 <= out["percentile_among_test"] <= 100


def test_requests_for_other_host_names_are_refused(base_url):
    req = urllib.request.Request(base_url + "/api/runs", headers={"Host": "evil.example:8000"})
    error(request(req), 403, "only requests addressed to 127.0.0.1 or localhost")
    req = urllib.request.Request(base_url + "/api/runs", headers={"Host": "localhost:1234"})
    assert request(req)[0] == 200


def test_post_needs_a_length(base_url):
    import http.client

    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/anomaly?run=" + quote("vae2"))
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 411 and "Content-Length" in json.loads(r.read())["error"]


# ---- the command ------------------------------------------------------------------------------------
def test_cli_refuses_bad_options(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    assert "--port must lie in" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--max-models", "0"]) == 2
    assert "--max-models must be at least 1" in capsys.readouterr().err


def test_the_command_serves_until_stopped(runs_root):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "genzoo", "serve", str(runs_root), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("genzoo serve: ") and "http://127.0.0.1:" in line, proc.stderr.read()
        url = line.split("at ")[1].split()[0].rstrip("/")
        assert len(ok_json(url, "/api/runs")["runs"]) == 13
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_importing_genzoo_does_not_import_the_app():
    import subprocess
    import sys

    code = "import sys, genzoo; genzoo.load; print('genzoo.serve' in sys.modules, 'http.server' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
