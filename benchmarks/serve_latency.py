"""Latency of `genzoo serve`'s interactive round trips and its throughput on loopback.

    OMP_NUM_THREADS=1 python benchmarks/serve_latency.py --out /tmp/serve-bench

Trains (a few steps: latency does not depend on the weights) an MLP VAE with a 2-D latent
(default nets: 784-500-2, Bernoulli decoder) and a DCGAN (default nets, width 64) on mnist5k at
28x28, and a CPU-sized PixelCNN (16 features, 2 residual blocks); starts `genzoo serve` on them in a
separate process on 127.0.0.1, then measures, from this process:

* the decode round trip: request sent -> PNG received and decoded by PIL (and the app's own share,
  from its Server-Timing header), for the VAE's latent plane
  (``/api/decode?plane=a,b`` at a new point each time) and for a new DCGAN image
  (``/api/sample?seed=i&n=1``): p50 and p95 over ``--requests`` requests, one client;
* throughput with ``--clients`` concurrent clients (``--requests`` in total, bounded loops), and their
  p95;
* the VAE round trip while a PixelCNN sample streams on another connection (does the page stay
  responsive?);
* where Selenium and Chromium are present, the same VAE round trip measured inside headless Chromium
  (performance.now() from the request to the new <img> decoded), i.e. browser event to image shown.

Writes OUT/results.json and prints it. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch


def train_runs(root: Path) -> None:
    import genzoo
    from genzoo.data import DataConfig
    from genzoo.registry import get_model
    from genzoo.training.trainer import TrainConfig

    tc = TrainConfig(epochs=1, batch_size=64, max_steps=2, progress=False, validate=False, sample_every=0)
    specs = {"vae-mlp": ("vae", {"latent_dim": 2}, {"binarize": "dynamic"}),
             "dcgan": ("dcgan", {}, {"scale": "pm1"}),
             "pixelcnn": ("pixelcnn", {"features": 16, "residual_blocks": 2, "output_features": 16},
                          {"binarize": "dynamic"})}
    for run, (name, kw, data_kw) in specs.items():
        if (root / run / "model.safetensors").exists():
            continue
        genzoo.train(name, data_config=DataConfig(name="mnist5k", **data_kw), out_dir=root / run,
                     model_config=get_model(name).default_config(**kw), train_config=tc, command="benchmark")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


SERVER_MS: list[float] = []  # the app's own time per request (its Server-Timing header)


def round_trip(url: str) -> float:
    """Seconds from request to a decoded PNG; records the app's own time in SERVER_MS."""
    from PIL import Image

    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        timing = r.headers.get("Server-Timing", "")
    Image.open(io.BytesIO(body)).load()
    dt = time.perf_counter() - t0
    if "dur=" in timing:
        SERVER_MS.append(float(timing.split("dur=")[1]))
    return dt


def measured(fn, *args) -> dict:
    """fn(*args) -> stats dict, plus the app's own p50/p95 over the same requests."""
    SERVER_MS.clear()
    out = fn(*args)
    if SERVER_MS:
        ms = np.array(SERVER_MS)
        out["app_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
        out["app_p95_ms"] = round(float(np.percentile(ms, 95)), 2)
    return out


def stats(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 2)}


def vae_url(base: str, i: int) -> str:
    a, b = np.sin(i * 0.37) * 2.5, np.cos(i * 0.23) * 2.5  # a new point of the plane each time
    return f"{base}/api/decode?run=vae-mlp&plane={a:.4f},{b:.4f}"


def dcgan_url(base: str, i: int) -> str:
    return f"{base}/api/sample?run=dcgan&n=1&seed={i}"


def one_client(make_url, base: str, total: int) -> dict:
    return stats([round_trip(make_url(base, i)) for i in range(total)])


def concurrent(make_url, base: str, total: int, clients: int) -> dict:
    lat: list[float] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(k, total, clients):  # bounded: total / clients requests each
            dt = round_trip(make_url(base, 10_000 + i))
            with lock:
                lat.append(dt)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(lat), "seconds": round(wall, 2),
            "requests_per_s": round(len(lat) / wall, 1), **stats(lat)}


def during_stream(base: str, requests: int) -> dict:
    """VAE round trips while a PixelCNN sample streams; the stream's rows and time are reported too."""
    done = threading.Event()
    info = {}

    def stream() -> None:
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/stream?run=pixelcnn&seed=1", timeout=600) as r:
            rows = sum(line.startswith(b"event: row") for line in r)
        info.update(stream_rows=rows, stream_seconds=round(time.perf_counter() - t0, 2))
        done.set()

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.2)
    lat = []
    for i in range(requests):  # bounded
        if done.is_set():
            break
        lat.append(round_trip(vae_url(base, 20_000 + i)))
    t.join()
    return {**stats(lat), **info} if lat else info


def browser_round_trip(base: str, requests: int) -> dict:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return {"skipped": "selenium is not installed"}
    chrome, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not chrome or not driver_bin:
        return {"skipped": "no chromium / chromedriver"}
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        driver.set_script_timeout(600)
        driver.get(base + "/")
        ms = driver.execute_async_script("""
            const [n, done] = arguments; const img = new Image(); const out = [];
            (async () => {
              for (let i = 0; i < n; i++) {
                const a = (Math.sin(i * 0.41) * 2.5).toFixed(4), b = (Math.cos(i * 0.29) * 2.5).toFixed(4);
                const t0 = performance.now();
                const r = await fetch(`/api/decode?run=vae-mlp&plane=${a},${b}`);
                img.src = URL.createObjectURL(await r.blob());
                await img.decode();
                out.push(performance.now() - t0);
                URL.revokeObjectURL(img.src);
              }
              done(out);
            })();""", requests)
    finally:
        driver.quit()
    return {"what": "headless Chromium: fetch -> <img> decoded", **stats([m / 1000 for m in ms])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/serve-bench", help="directory for the runs and results.json")
    p.add_argument("--requests", type=int, default=200, help="requests per measurement (default: 200)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput (default: 8)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    t_start = time.time()
    load_start = os.getloadavg()[0]
    train_runs(out)
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    server = subprocess.Popen([sys.executable, "-m", "genzoo", "serve", str(out), "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # wait up to 60 s for the server
            try:
                fetch(base + "/api/runs")
                break
            except OSError:
                time.sleep(0.2)
        results: dict = {}
        for name, make_url in (("vae_mlp_decode", vae_url), ("dcgan_sample", dcgan_url)):
            for i in range(10):  # warm up: load the model, first allocations
                round_trip(make_url(base, 100_000 + i))
            results[name] = measured(one_client, make_url, base, args.requests)
            results[name + f"_{args.clients}_clients"] = measured(concurrent, make_url, base, args.requests,
                                                                   args.clients)
        round_trip(f"{base}/api/sample?run=pixelcnn&n=1")  # load it
        results["vae_mlp_decode_during_pixelcnn_stream"] = measured(during_stream, base, args.requests)
        results["vae_mlp_decode_in_browser"] = browser_round_trip(base, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "OMP_NUM_THREADS": env["OMP_NUM_THREADS"], "python": platform.python_version(),
                          "torch": torch.__version__, "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    results["machine"]["load_average_1min_at_start"] = round(load_start, 2)
    results["seconds_total"] = round(time.time() - t_start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
