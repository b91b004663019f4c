"""``genzoo serve RUNS_DIR``: browse runs and explore their models in a local web page."""

from __future__ import annotations

import ipaddress


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="a local web explorer of runs and models",
        description="Serve a web page over every run directory under RUNS_DIR: a sortable runs table with "
                    "training curves, each run's config, metrics, pictures and eval JSON, and interactive "
                    "views computed by the loaded model on the CPU (latent plane, InfoGAN codes, class and "
                    "caption pickers, streamed autoregressive samples, per-pixel log-probabilities, "
                    "interpolation, reconstruction, translation, anomaly scores of uploads).")
    p.add_argument("runs_dir", metavar="RUNS_DIR", help="directory holding run directories (searched 4 levels deep)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only; the app has no authentication)")
    p.add_argument("--max-models", type=int, default=4, help="models kept loaded at once, LRU (default: 4)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.serve.app import make_server

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must lie in [0, 65535], got {args.port}")
    try:
        server = make_server(args.runs_dir, host=args.host, port=args.port, max_models=args.max_models,
                             verbose=args.verbose)
    except OSError as e:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    host, port = server.server_address[:2]
    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = True
    if public:
        print(f"genzoo serve: warning: listening on {host}, reachable from other machines; the app has no "
              "authentication")
    print(f"genzoo serve: {server.app.root} at http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
