"""``genzoo translate RUN --input DIR_OR_NPY --out DIR``: image-to-image translation with a CycleGAN run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.cli._common import add_run_arguments, load_run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def register(sub) -> None:
    p = sub.add_parser("translate", help="translate images between the domains of a CycleGAN run",
                       description="Read images (a folder of image files, or a .npy array of shape (N, H, W), "
                                   "(N, C, H, W) or (N, H, W, C), uint8 0-255 or float 0-1), translate them "
                                   "with a trained CycleGAN and write one PNG per image to --out.")
    add_run_arguments(p, seed=False)
    p.add_argument("--input", required=True, help="folder of images or a .npy file")
    p.add_argument("--out", required=True, help="output folder for the translated PNGs")
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                   help="a2b: domain A (--data) -> B (--data-b); b2a: the reverse (default: a2b)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    p.set_defaults(func=run)


def read_images(path: Path, channels: int) -> tuple[np.ndarray, list[str]]:
    """Images as float32 (N, C, H, W) in [0, 1] and output names."""
    if path.is_dir():
        from PIL import Image

        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
        arrays = []
        for f in files:
            with Image.open(f) as img:
                arrays.append(np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255)
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"{path}: images of different sizes {sorted(shapes)}; resize them first")
        x = np.stack(arrays)  # (N, H, W) or (N, H, W, 3)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        return x, [f.stem + ".png" for f in files]
    if path.suffix.lower() == ".npy" and path.is_file():
        arr = np.load(path, allow_pickle=False)
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
        if arr.ndim != 4:
            raise ValueError(f"{path}: expected an array (N, H, W), (N, C, H, W) or (N, H, W, C), "
                             f"got shape {arr.shape}")
        x = arr.astype(np.float32)
        if arr.dtype == np.uint8 or x.max() > 1.0:
            x /= 255
        if x.min() < 0:
            raise ValueError(f"{path}: values must lie in [0, 1] (float) or 0-255 (uint8)")
        if x.shape[1] != channels:
            x = x.mean(1, keepdims=True) if channels == 1 else np.repeat(x, channels, axis=1)
        return x, [f"{i:05d}.png" for i in range(len(x))]
    raise ValueError(f"--input {path}: not a folder or a .npy file")


def write_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    arr = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)  # (C, H, W)
    Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)).save(path)


def run(args) -> int:
    model = load_run(args)
    if not hasattr(model, "translate"):
        raise ValueError(f"{args.run}: model {model.registry_name!r} does not translate images (train a cyclegan)")
    from genzoo.data.transforms import from_unit, to_unit
    from genzoo.training.run import read_run_config

    scale = read_run_config(args.run).get("data", {}).get("scale", "01")
    cfg = model.config
    shape_a, shape_b = tuple(cfg.shape), tuple(cfg.shape_b or cfg.shape)
    src = shape_a if args.direction == "a2b" else shape_b
    x, names = read_images(Path(args.input), src[0])
    xt = torch.from_numpy(x)
    if tuple(xt.shape[2:]) != tuple(src[1:]):
        xt = F.interpolate(xt, size=tuple(src[1:]), mode="bilinear", align_corners=False,
                           antialias=xt.shape[2] > src[1])
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for start in range(0, len(xt), args.batch_size):
            batch = xt[start:start + args.batch_size].to(model.device)  # (B, C, H, W) in [0, 1]
            y = to_unit(model.translate(from_unit(batch, scale), args.direction), scale)
            for i, img in enumerate(y.cpu().numpy()):
                write_png(img, out_dir / names[start + i])
    print(f"{len(xt)} images -> {out_dir}")
    return 0
