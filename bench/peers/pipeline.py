"""PyTorch's side of the pipeline suite: torch.utils.data.DataLoader over the same files.

The files are the ones crates/lockstep/benches/pipeline.rs writes (the shapes set at
256x256 as PNG and JPEG, with instances.json) under $LOCKSTEP_PIPELINE_DATA (default
target/bench/pipeline-data), so run the Rust side first (`cargo xtask bench pipeline`).

Per sample: read the file, torchvision.io.decode_image (RGB), then transforms.v2
RandomResizedCrop(224, antialias=True), RandomHorizontalFlip, ColorJitter(0.4, 0.4, 0.4),
ToDtype(float32, scale=True); the default collate stacks batches of 32, shuffled. One
timed call is one epoch; ns_per_item is per image. "1 core": num_workers=0 with
torch.set_num_threads(1); "2 cores": num_workers=2 (persistent workers, each with one
torch thread, as DataLoader sets), the main process only collects. Reads nothing from
the network.
"""
import json
import os
import pathlib

import torch
import torchvision
from torch.utils.data import DataLoader, Dataset
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2

import benchkit

BATCH = 32


class Coco(Dataset):
    def __init__(self, folder, transform):
        self.folder = folder
        with open(folder / "instances.json") as f:
            self.files = [img["file_name"] for img in json.load(f)["images"]]
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        data = torchvision.io.read_file(str(self.folder / self.files[i]))
        image = decode_image(data, mode=ImageReadMode.RGB)
        return self.transform(image)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = pathlib.Path(os.environ.get(
        "LOCKSTEP_PIPELINE_DATA",
        pathlib.Path(__file__).resolve().parents[2] / "target" / "bench" / "pipeline-data"))
    transform = v2.Compose([
        v2.RandomResizedCrop(224, antialias=True),
        v2.RandomHorizontalFlip(0.5),
        v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
        v2.ToDtype(torch.float32, scale=True),
    ])
    for fmt in ["png", "jpeg"]:
        data = Coco(root / fmt, transform)
        n = len(data)

        def epoch(loader):
            count = 0
            for batch in loader:
                assert batch.shape[1:] == (3, 224, 224)
                count += batch.shape[0]
            assert count == n

        zero = DataLoader(data, batch_size=BATCH, shuffle=True, num_workers=0)
        benchkit.measure("pipeline", "dataloader", f"{fmt} e2e 1 core", n, lambda s: epoch(zero))
        two = DataLoader(data, batch_size=BATCH, shuffle=True, num_workers=2,
                         persistent_workers=True)
        benchkit.measure("pipeline", "dataloader", f"{fmt} e2e 2 cores", n, lambda s: epoch(two))
        del two

        def decode_all(s):
            for f in data.files:
                decode_image(torchvision.io.read_file(str(data.folder / f)),
                             mode=ImageReadMode.RGB)

        benchkit.measure("pipeline", "dataloader", f"{fmt} decode only", n, decode_all)
        decoded = [decode_image(torchvision.io.read_file(str(data.folder / f)),
                                mode=ImageReadMode.RGB) for f in data.files]

        def augment_all(s):
            for i in range(0, n, BATCH):
                torch.stack([transform(img) for img in decoded[i:i + BATCH]])

        benchkit.measure("pipeline", "dataloader", f"{fmt} augment+collate only", n, augment_all)


if __name__ == "__main__":
    main()
