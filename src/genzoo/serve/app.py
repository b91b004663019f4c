"""The HTTP app: a standard-library ``ThreadingHTTPServer`` serving a JSON/PNG API and one
plain-JavaScript page (package data under ``static/``, no CDN, no build step).

Endpoints (every run is named by ``run=``, its path relative to the served directory):

========================  ===========================================================================
GET  /                    the page
GET  /static/NAME         the page's script and style sheet
GET  /api/runs            the runs table (JSON)
GET  /api/run             a run's config, metrics columns, pictures and eval JSON
GET  /api/file            a PNG, JSON or CSV file of a run (``name=``)
GET  /api/model           what the run's model offers (loads it) or its load error
GET  /api/codes           test codes on the latent plane (2-D latent, else the top 2 principal directions)
GET  /api/encode          the code of test image ``index=``
GET  /api/decode          decoder mean of ``z=`` (comma-separated) or of plane point ``plane=a,b``
GET  /api/sample          ``n=`` samples from ``seed=``; ``label=`` / ``text=`` / InfoGAN ``cat=`` ``c=``
GET  /api/stream          autoregressive sample from ``seed=``, rows as server-sent events
GET  /api/test_image      test image ``index=``
GET  /api/logprob         per-pixel log p(x_i | x_<i) of test image ``index=`` (heat map)
GET  /api/interpolate     decoded line between the codes of test images ``a=`` and ``b=``
GET  /api/reconstruct     reconstruction of test image ``index=``
POST /api/reconstruct     reconstruction of the uploaded image (request body)
POST /api/translate       CycleGAN translation of the uploaded image (``direction=a2b|b2a``)
POST /api/anomaly         anomaly score of the uploaded image, against the test split's scores
========================  ===========================================================================

Image endpoints answer PNG, or JSON numbers with ``format=json``. Errors answer JSON
``{"error": "..."}``: 400 bad parameter, 404 unknown run or file, 413 upload too large, 415 not an
image, 422 wrong image size or a view the model does not have, 500 a model that does not load.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import torch

from genzoo.serve import adapter
from genzoo.serve.cache import ModelCache, ModelLoadError, Served
from genzoo.serve.images import MAX_UPLOAD_BYTES, UploadError, grid, heat_map, png, read_upload, to_unit
from genzoo.serve.runs import (
    SERVED_SUFFIXES,
    BadRequest,
    NotFound,
    find_runs,
    resolve_run,
    run_details,
    run_file,
    summarize,
)

STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
MAX_STEPS = 32
MAX_DIRECTIONS = 32  # principal directions offered as sliders
MAX_ABS_Z = 1e3


class ViewError(ValueError):
    """The model has no such view (HTTP 422)."""


class App:
    """The state shared by all request threads: the served root and the model cache."""

    def __init__(self, root: str | Path, *, max_models: int = 4, anomaly_k: int = 20, verbose: bool = False):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such directory (RUNS_DIR must be a directory of run directories)")
        self.root = root.resolve()
        self.cache = ModelCache(max_models)
        self.anomaly_k = anomaly_k
        self.verbose = verbose
        self.loopback_only = True

    def served(self, q) -> Served:
        run_id = one(q, "run")
        return self.cache.get(run_id, resolve_run(self.root, run_id))


# ---- parameters ------------------------------------------------------------------------------------
def one(q: dict, name: str, default: str | None = None) -> str | None:
    v = q.get(name)
    return v[-1] if v else default


def int_param(q: dict, name: str, default: int | None, lo: int, hi: int) -> int:
    raw = one(q, name)
    if raw is None:
        if default is None:
            raise BadRequest(f"missing parameter {name!r}")
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be an integer, got {raw!r}") from None
    if not lo <= v <= hi:
        raise BadRequest(f"parameter {name!r} must lie in [{lo}, {hi}], got {v}")
    return v


def floats_param(q: dict, name: str, count: int | None = None, limit: float = MAX_ABS_Z) -> list[float]:
    raw = one(q, name)
    if raw is None:
        raise BadRequest(f"missing parameter {name!r}")
    try:
        vals = [float(s) for s in raw.split(",")] if raw.strip() else []
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be comma-separated numbers, got {raw[:80]!r}") from None
    if any(not math.isfinite(v) or abs(v) > limit for v in vals):
        raise BadRequest(f"parameter {name!r}: values must be finite and at most {limit:g} in size")
    if count is not None and len(vals) != count:
        raise BadRequest(f"parameter {name!r} needs {count} numbers, got {len(vals)}")
    return vals


def need(served: Served, view: str) -> None:
    if view not in served.info["views"]:
        raise ViewError(f"model {served.info['model']!r} has no {view!r} view")


# ---- views -----------------------------------------------------------------------------------------
def pick_test_image(served: Served, q: dict, name: str = "index") -> tuple[torch.Tensor, int | None]:
    x, y, _ = served.data()
    i = int_param(q, name, 0, 0, len(x) - 1)
    return x[i:i + 1], (None if y is None else int(y[i]))


def latent_plane(latent: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(origin (L,), basis (2, L)) of the plane of a latent of at most 2 dimensions: its own axes."""
    return torch.zeros(latent), torch.eye(2)[:, :latent]


def codes(served: Served) -> dict:
    """Test codes projected on the latent plane. A latent of 1 or 2 dimensions is its own plane; for
    L > 2 the plane passes through the codes' mean, spanned by their top two principal directions."""
    def compute():
        x, y, _ = served.data()
        z = torch.cat([adapter.encode(served.model, x[i:i + 250]) for i in range(0, len(x), 250)])  # (N, L)
        extra = {}
        if z.shape[1] <= 2:
            (mean, basis), mode = latent_plane(z.shape[1]), "latent"
        else:
            mean = z.mean(0)
            _, sv, vh = torch.linalg.svd(z - mean, full_matrices=False)  # vh (L, L): principal directions
            basis, mode = vh[:2], "pca"  # (2, L)
            k = min(MAX_DIRECTIONS, vh.shape[0])
            extra = {"directions": vh[:k].tolist(),  # for sliders along principal directions
                     "scales": (sv[:k] / max(len(z) - 1, 1) ** 0.5).tolist()}  # std of the codes along each
        xy = (z - mean) @ basis.T  # (N, 2)
        lo, hi = z.min(0).values, z.max(0).values
        return {"mode": mode, "mean": mean.tolist(), "basis": basis.tolist(), "xy": xy.tolist(),
                "labels": None if y is None else y.tolist(), "z_min": lo.tolist(), "z_max": hi.tolist(), **extra}
    return served.memoized("codes", compute)


def image_response(served: Served, images: torch.Tensor, q: dict, ncol: int | None = None, extra=None):
    """(N, C, H, W) data-space images -> PNG bytes, or JSON with the numbers (format=json)."""
    unit = to_unit(images, served.scale)
    if one(q, "format", "png") == "json":
        body = {"shape": list(unit.shape), "values": unit.tolist(), **(extra or {})}
        return "application/json", json.dumps(body).encode()
    if one(q, "format", "png") != "png":
        raise BadRequest("parameter 'format' must be png or json")
    return "image/png", png(grid(unit, ncol))


def view_decode(app: App, q: dict):
    served = app.served(q)
    need(served, "latent")
    ld = served.info["latent_dim"]
    if one(q, "z") is not None:
        z = torch.tensor([floats_param(q, "z", ld)])
    else:
        a, b = floats_param(q, "plane", 2)
        if ld <= 2:
            mean, basis = latent_plane(ld)
        else:
            c = codes(served)
            mean, basis = torch.tensor(c["mean"]), torch.tensor(c["basis"])
        z = (mean + a * basis[0] + b * basis[1]).unsqueeze(0)  # (1, L)
    return image_response(served, adapter.decode(served.model, z), q, extra={"z": z[0].tolist()})


def view_sample(app: App, q: dict):
    served = app.served(q)
    info = served.info
    seed = int_param(q, "seed", 0, 0, 2**63 - 1)
    if one(q, "cat") is not None or one(q, "c") is not None:
        need(served, "infogan")
        cat = int_param(q, "cat", 0, 0, info["categories"] - 1)
        cont = floats_param(q, "c", info["continuous"], limit=10.0) if info["continuous"] else []
        return image_response(served, adapter.infogan(served.model, seed, cat, cont), q)
    n = int_param(q, "n", 1, 1, adapter.MAX_SAMPLES)
    label = text = None
    if one(q, "label") is not None:
        need(served, "label")
        label = int_param(q, "label", None, 0, info["num_classes"] - 1)
    if one(q, "text") is not None:
        need(served, "text")
        text = one(q, "text")
        if len(text) > 200:
            raise BadRequest("caption is longer than 200 characters")
    need(served, "sample")
    return image_response(served, adapter.sample(served.model, n, seed, label=label, text=text), q)


def view_logprob(app: App, q: dict):
    served = app.served(q)
    need(served, "logprob")
    x, _ = pick_test_image(served, q)
    lp = adapter.pixel_log_probs(served.model, x)[0]  # (H, W)
    if one(q, "format", "png") == "json":
        return "application/json", json.dumps({
            "log_prob_nats": lp.tolist(), "total_nats": float(lp.sum()),
            "model_log_prob_nats": float(adapter.log_prob(served.model, x)[0]),
            "note": "log p(x_i | x_<i) per pixel in raster order, nats; total_nats is their sum, the exact "
                    "log p(x) in that order; model_log_prob_nats is the model's log p(x) (the same, except for "
                    "an order-agnostic NADE ensemble, which averages orderings)"}).encode()
    return "image/png", png(heat_map(lp))


def view_interpolate(app: App, q: dict):
    served = app.served(q)
    need(served, "interpolate")
    xa, _ = pick_test_image(served, q, "a")
    xb, _ = pick_test_image(served, q, "b")
    steps = int_param(q, "steps", 8, 2, MAX_STEPS)
    return image_response(served, adapter.interpolate(served.model, xa, xb, steps), q, ncol=steps)


def view_reconstruct_get(app: App, q: dict):
    served = app.served(q)
    need(served, "reconstruct")
    x, _ = pick_test_image(served, q)
    return image_response(served, torch.cat([x, adapter.reconstruct(served.model, x)]), q, ncol=2)


def upload(app: App, q: dict, body: bytes, direction: str = "a2b") -> tuple[Served, torch.Tensor]:
    served = app.served(q)
    resize = one(q, "resize", "0") in ("1", "true", "yes")
    x = read_upload(body, adapter.input_shape(served.model, direction), resize=resize)
    return served, served.to_data_space(x)


def view_reconstruct_post(app: App, q: dict, body: bytes):
    served, x = upload(app, q, body)
    need(served, "reconstruct")
    return image_response(served, torch.cat([x, adapter.reconstruct(served.model, x)]), q, ncol=2)


def view_translate(app: App, q: dict, body: bytes):
    direction = one(q, "direction", "a2b")
    if direction not in ("a2b", "b2a"):
        raise BadRequest("parameter 'direction' must be a2b or b2a")
    served, x = upload(app, q, body, direction)
    need(served, "translate")
    y = adapter.translate(served.model, x, direction)
    return "image/png", png(grid(to_unit(y, served.scale)))


def view_anomaly(app: App, q: dict, body: bytes):
    served, x = upload(app, q, body)
    need(served, "anomaly")
    k = app.anomaly_k
    _, _, train = served.data()
    name, [score] = adapter.anomaly_scores(served.model, x, train, 0, k)

    def reference():
        test, _, _ = served.data()
        return adapter.anomaly_scores(served.model, test[:200], train, 0, k)[1]

    ref = served.memoized("anomaly_reference", reference)
    rank = sum(r < score for r in ref) / len(ref)
    notes = {"nll": f"-log p(x) in nats (an importance-sampled estimate with k={k} for latent-variable models)",
             "nelbo": "-ELBO in nats (an upper bound on -log p(x))",
             "recon": "squared reconstruction error", "code": "-log density of the code under a Gaussian "
             "fitted to training codes", "disc": "-discriminator logit"}
    return "application/json", json.dumps({
        "score": name, "value": score, "higher_is_more_anomalous": True, "meaning": notes.get(name, name),
        "percentile_among_test": 100 * rank, "reference_n": len(ref)}).encode()


def view_model(app: App, q: dict):
    served = app.served(q)
    return "application/json", json.dumps(served.info).encode()


def view_codes(app: App, q: dict):
    served = app.served(q)
    need(served, "latent")
    return "application/json", json.dumps(codes(served)).encode()


def view_encode(app: App, q: dict):
    served = app.served(q)
    need(served, "latent")
    x, y = pick_test_image(served, q)
    return "application/json", json.dumps({"z": adapter.encode(served.model, x)[0].tolist(), "label": y}).encode()


def view_test_image(app: App, q: dict):
    served = app.served(q)
    x, y = pick_test_image(served, q)
    return image_response(served, x, q, extra={"label": y})


GET_VIEWS = {"/api/decode": view_decode, "/api/sample": view_sample, "/api/logprob": view_logprob,
             "/api/interpolate": view_interpolate, "/api/reconstruct": view_reconstruct_get,
             "/api/model": view_model, "/api/codes": view_codes, "/api/encode": view_encode,
             "/api/test_image": view_test_image}
POST_VIEWS = {"/api/reconstruct": view_reconstruct_post, "/api/translate": view_translate,
              "/api/anomaly": view_anomaly}


# ---- HTTP ------------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server_version = "genzoo-serve"
    app: App  # set on the subclass made by make_server

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.app.verbose:
            super().log_message(format, *args)

    def send_body(self, status: int, ctype: str, body: bytes, extra_headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        t0 = getattr(self, "t0", None)
        if t0 is not None:  # time spent in the app (parsing, model, PNG), for benchmarks and devtools
            self.send_header("Server-Timing", f"app;dur={(time.perf_counter() - t0) * 1000:.2f}")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, status: int, message: str) -> None:
        self.send_body(status, "application/json", json.dumps({"error": message}).encode())

    def do_GET(self):
        self.dispatch(None)

    def do_POST(self):
        self.dispatch(self.read_body())

    def read_body(self) -> bytes | UploadError:
        length = self.headers.get("Content-Length")
        if length is None:
            return UploadError(411, "missing Content-Length: send the image file as the request body")
        try:
            n = int(length)
        except ValueError:
            return UploadError(400, "bad Content-Length")
        if n < 0:
            return UploadError(400, "bad Content-Length")
        if n > MAX_UPLOAD_BYTES:
            # read (and drop) a moderately oversized body so the client sees the answer, not a broken pipe
            left = n if n <= 16 * MAX_UPLOAD_BYTES else 0
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            return UploadError(413, f"upload of {n} bytes is over the {MAX_UPLOAD_BYTES} byte limit")
        return self.rfile.read(n)

    def host_allowed(self) -> bool:
        """On a loopback address, answer only requests addressed to a loopback name: a web page from
        elsewhere cannot reach the app through DNS rebinding."""
        if not self.app.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return name in ("127.0.0.1", "localhost", "[::1]")

    def dispatch(self, body) -> None:
        self.t0 = time.perf_counter()
        if not self.host_allowed():
            return self.send_error_json(403, "this server answers only requests addressed to 127.0.0.1 or localhost")
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        path = url.path
        try:
            if isinstance(body, UploadError):
                raise body
            if body is None:
                if path in ("/", "/index.html"):
                    return self.static("index.html")
                if path.startswith("/static/"):
                    return self.static(path[len("/static/"):])
                if path == "/api/runs":
                    return self.json({"root": str(self.app.root), "loaded": self.app.cache.loaded(),
                                      "runs": [summarize(self.app.root, r) for r in find_runs(self.app.root)]})
                if path == "/api/run":
                    return self.json(run_details(self.app.root, one(q, "run")))
                if path == "/api/file":
                    f = run_file(resolve_run(self.app.root, one(q, "run")), one(q, "name"))
                    return self.send_body(200, SERVED_SUFFIXES[f.suffix.lower()], f.read_bytes())
                if path == "/api/stream":
                    return self.stream(q)
                view = GET_VIEWS.get(path)
            else:
                view = POST_VIEWS.get(path)
                if view is not None:
                    ctype, out = view(self.app, q, body)
                    return self.send_body(200, ctype, out)
            if view is None:
                known = path in GET_VIEWS or path in POST_VIEWS
                what = "method not allowed" if known else "no such page"
                return self.send_error_json(405 if known else 404, f"{self.command} {path}: {what}")
            ctype, out = view(self.app, q)
            return self.send_body(200, ctype, out)
        except UploadError as e:
            self.send_error_json(e.status, str(e))
        except BadRequest as e:
            self.send_error_json(400, str(e))
        except NotFound as e:
            self.send_error_json(404, str(e))
        except ViewError as e:
            self.send_error_json(422, str(e))
        except ModelLoadError as e:
            self.send_error_json(500, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except ValueError as e:  # the model's own refusal, e.g. an unknown caption word
            self.send_error_json(400, " ".join(str(e).split()))
        except Exception as e:  # noqa: BLE001 (keep serving; report the one line)
            traceback.print_exc(file=sys.stderr)
            self.send_error_json(500, f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]}")

    def json(self, data) -> None:
        self.send_body(200, "application/json", json.dumps(data).encode())

    def static(self, name: str) -> None:
        if name not in STATIC:
            raise NotFound(f"/static/{name}: no such file")
        body = resources.files("genzoo.serve").joinpath("static", name).read_bytes()
        self.send_body(200, STATIC[name] + "; charset=utf-8", body)

    def stream(self, q: dict) -> None:
        """Server-sent events: one ``row`` event per completed image row, then ``done``."""
        served = self.app.served(q)
        need(served, "stream")
        seed = int_param(q, "seed", 0, 0, 2**63 - 1)
        c, h, w = served.info["shape"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        start = {"height": h, "width": w, "channels": c, "live": served.info.get("live_stream", False)}
        self.wfile.write(f"event: start\ndata: {json.dumps(start)}\n\n".encode())
        self.wfile.flush()
        try:
            for r, row in adapter.stream_rows(served.model, seed):
                vals = to_unit(row, served.scale)  # (C, W)
                self.wfile.write(f"event: row\ndata: {json.dumps({'row': r, 'values': vals.tolist()})}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"event: done\ndata: {}\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the page went away: stop sampling
            return


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops connections (1 s SYN retry) under 8 concurrent clients


def make_server(root: str | Path, host: str = "127.0.0.1", port: int = 8000, **app_kw) -> Server:
    """A server over the run directories under ``root`` (port 0: any free port)."""
    app = App(root, **app_kw)
    app.loopback_only = _is_loopback(host)
    handler = type("BoundHandler", (Handler,), {"app": app})
    server = Server((host, port), handler)
    server.app = app
    return server


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_in_thread(root, **kw) -> tuple[Server, threading.Thread]:
    """Start a server on a free loopback port in a daemon thread (tests, benchmarks)."""
    server = make_server(root, port=0, **kw)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server, t
