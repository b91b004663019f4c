"""``genzoo translate RUN --input DIR_OR_NPY --out DIR``: image-to-image translation with a CycleGAN run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.cli._common import add_run_arguments, load_run, positive_int

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def register(sub) -> None:
    p = sub.add_parser("translate", help="translate images between the domains of a CycleGAN run",
                       description="Read images (a folder of image files of any sizes and modes, transparency "
                                   "composited on white; or a .npy array of shape (N, H, W), (N, C, H, W) or "
                                   "(N, H, W, C), uint8 0-255 or float 0-1), resize each to the model's image "
                                   "size, translate them with a trained CycleGAN and write one PNG per image "
                                   "to --out (at the model's size, or the input's with --keep-size).")
    add_run_arguments(p, seed=False)
    p.add_argument("--input", required=True, help="folder of images or a .npy file")
    p.add_argument("--out", required=True, help="output folder for the translated PNGs")
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                   help="a2b: domain A (--data) -> B (--data-b); b2a: the reverse (default: a2b)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per forward pass (default: 256)")
    p.add_argument("--keep-size", action="store_true",
                   help="write each translation at its input's size (default: the model's image size)")
    p.set_defaults(func=run)


def _open_image(f: Path, channels: int) -> np.ndarray:
    """One image file -> float32 (C, H, W) in [0, 1]; transparency is composited on white (as the
    emoji reader does), palettes and 16-bit images converted. A file PIL cannot read -> ValueError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(f) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)
            arr = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"{f}: not a readable image ({e})") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def read_folder(path: Path, channels: int) -> tuple[list[np.ndarray], list[str]]:
    """The image files of a folder (not its subfolders), sorted by name: float32 (C, H_i, W_i) arrays
    in [0, 1], each at its own size, and the output names (stem + .png; clashes refused)."""
    files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
    names = [f.stem + ".png" for f in files]
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{path}: several images would be written as {dup[0]} (same name, other suffix)")
    return [_open_image(f, channels) for f in files], names


def read_images(path: Path, channels: int) -> tuple[list[np.ndarray] | np.ndarray, list[str]]:
    """Images as float32 in [0, 1] and output names: a folder gives a list of (C, H_i, W_i) arrays
    (any sizes), a .npy file one (N, C, H, W) array."""
    if path.is_dir():
        return read_folder(path, channels)
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


def to_model_size(x: torch.Tensor, size) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, *size): bilinear, antialiased when shrinking (aspect ratio not kept)."""
    size = tuple(int(v) for v in size)
    if tuple(x.shape[2:]) == size:
        return x
    shrink = x.shape[2] > size[0] or x.shape[3] > size[1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink).clamp(0, 1)


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
    images, names = read_images(Path(args.input), src[0])
    sizes = [tuple(im.shape[1:]) for im in images]  # each input's (H, W)
    xt = torch.cat([to_model_size(torch.from_numpy(np.ascontiguousarray(im))[None], src[1:]) for im in images]) \
        if isinstance(images, list) else to_model_size(torch.from_numpy(images), src[1:])  # (N, C, H, W)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for start in range(0, len(xt), args.batch_size):
            batch = xt[start:start + args.batch_size].to(model.device)  # (B, C, H, W) in [0, 1]
            y = to_unit(model.translate(from_unit(batch, scale), args.direction), scale).cpu()
            for i, img in enumerate(y):
                if args.keep_size and sizes[start + i] != tuple(img.shape[1:]):
                    img = to_model_size(img[None], sizes[start + i])[0]
                write_png(img.numpy(), out_dir / names[start + i])
    print(f"{len(xt)} images -> {out_dir}")
    return 0
