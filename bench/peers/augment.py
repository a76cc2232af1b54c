"""torchvision.transforms.v2 and Pillow's side of the augment suite.

Single-threaded (torch.set_num_threads(1)), on 256x256 RGB uint8 images: torchvision
works on uint8 CHW tensors, Pillow on PIL images. The case strings match
crates/augment/benches/augment.rs. Prints one JSON line per (case, peer) in the schema of
crates/benchkit. Reads nothing from the network.
"""
import random

import numpy as np
import torch
from PIL import Image, ImageEnhance
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

import benchkit



def measure(case, impl, items, run):
    benchkit.measure("augment", impl, case, items, run)


def test_image(salt=0):
    # The same pattern as the Rust bench (the values do not affect timing much, but the
    # mean and spread do for contrast).
    x = np.arange(256, dtype=np.uint32)[None, :].repeat(256, 0)
    y = np.arange(256, dtype=np.uint32)[:, None].repeat(256, 1)
    r = ((x ^ (y * 3)) + salt) % 256
    g = (x * 7 + y + salt * 5) % 256
    b = ((x * y) >> 4) % 256
    return np.stack([r, g, b], -1).astype(np.uint8)


def pil_pipeline(img, rng):
    # RandomCrop(224), RandomHorizontalFlip, then ColorJitter-style factors in [0.6, 1.4].
    x, y = rng.randint(0, 32), rng.randint(0, 32)
    img = img.crop((x, y, x + 224, y + 224))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.6, 1.4))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.6, 1.4))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    return img


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    arr = test_image()
    tensor = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
    pil = Image.fromarray(arr, "RGB")

    tv_pipeline = v2.Compose([
        v2.RandomCrop(224),
        v2.RandomHorizontalFlip(0.5),
        v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
    ])
    rng = random.Random(0)
    measure("pipeline 256->224", "torchvision", 1, lambda s: tv_pipeline(tensor))
    measure("pipeline 256->224", "pillow", 1, lambda s: pil_pipeline(pil, rng))

    measure("hflip", "torchvision", 1, lambda s: F.horizontal_flip(tensor))
    measure("hflip", "pillow", 1, lambda s: pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    measure("brightness", "torchvision", 1,
            lambda s: F.adjust_brightness(tensor, 1.1 + (s % 7) * 0.01))
    measure("brightness", "pillow", 1,
            lambda s: ImageEnhance.Brightness(pil).enhance(1.1 + (s % 7) * 0.01))

    measure("contrast", "torchvision", 1,
            lambda s: F.adjust_contrast(tensor, 1.1 + (s % 7) * 0.01))
    measure("contrast", "pillow", 1,
            lambda s: ImageEnhance.Contrast(pil).enhance(1.1 + (s % 7) * 0.01))

    # A batch of 64 through the pipeline, one image at a time as a DataLoader worker
    # would (torchvision's random transforms draw one parameter set per call).
    batch = [torch.from_numpy(test_image(i)).permute(2, 0, 1).contiguous() for i in range(64)]
    measure("batch64 pipeline 1 thread", "torchvision", 64,
            lambda s: [tv_pipeline(t) for t in batch])
    pil_batch = [Image.fromarray(test_image(i), "RGB") for i in range(64)]
    measure("batch64 pipeline 1 thread", "pillow", 64,
            lambda s: [pil_pipeline(p, rng) for p in pil_batch])


if __name__ == "__main__":
    main()
