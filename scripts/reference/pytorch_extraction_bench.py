#!/usr/bin/python3
"""PyTorch side of the CNN extraction speed comparison (a reference tool, never a runtime dependency).

Times what cirtorch's extract_vectors does per image on the CPU — PIL load, thumbnail to SIZE,
ToTensor/Normalize, forward pass, GeM pooling (p = 3), L2 normalisation, single- or multi-scale —
with torch's thread count set explicitly and OMP_WAIT_POLICY=PASSIVE (without it, PyTorch runs up to
10× slower on this kind of machine). Weights do not change the speed: ResNets get torchvision's random
initialisation (nothing is downloaded); EfficientNet-Lite uses the real weights from the model cache when
the efficientnet_lite_pytorch code is importable (--effnet-src), else it is skipped.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/reference/pytorch_extraction_bench.py \
        --network resnet101 --size 1024 --images ../shared/devset/images --count 10 --threads 2

Prints one JSON object: {"network", "size", "scales", "threads", "images", "seconds_per_image", "images_per_second"}.
"""
import argparse
import glob
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def backbone(name, effnet_src, cache):
    if name.startswith("resnet"):
        net = getattr(torchvision.models, name)(weights=None)
        return torch.nn.Sequential(*list(net.children())[:-2])
    if name.startswith("efficientnet-lite"):
        sys.path.insert(0, effnet_src)
        from efficientnet_lite_pytorch import EfficientNet
        net = EfficientNet.from_name(name)
        weights = os.path.join(cache, "models", name + ".pth")
        if os.path.exists(weights):
            net.load_state_dict(torch.load(weights, map_location="cpu"))

        class Features(torch.nn.Module):
            def forward(self, x):
                return net.extract_features(x)

        return Features()
    raise SystemExit("unknown network " + name)


def gem(x, p=3.0, eps=1e-6):
    return F.avg_pool2d(x.clamp(min=eps).pow(p), (x.size(-2), x.size(-1))).pow(1.0 / p)


def describe(net, path, size, scales, normalize):
    image = Image.open(path).convert("RGB")
    image.thumbnail((size, size), Image.LANCZOS)
    tensor = normalize(torchvision.transforms.functional.to_tensor(image)).unsqueeze(0)
    vector = torch.zeros(1)
    for scale in scales:
        scaled = tensor if scale == 1 else F.interpolate(tensor, scale_factor=scale, mode="bilinear",
                                                         align_corners=False)
        v = gem(net(scaled)).squeeze()
        v = v / (v.norm() + 1e-6)
        vector = vector + v.pow(3)
    vector = (vector / len(scales)).pow(1.0 / 3)
    return vector / vector.norm()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", default="resnet101")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--scales", default="1")
    parser.add_argument("--images", default=os.path.join(os.path.dirname(__file__), "../../../shared/devset/images"))
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--effnet-src", default="/tmp/effnet/src")
    parser.add_argument("--cache", default=os.environ.get("LANDMARK_CACHE", os.path.expanduser("~/.cache/landmark")))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    scales = [float(s) for s in args.scales.split(",")]
    paths = sorted(glob.glob(os.path.join(args.images, "*.jpg")) + glob.glob(os.path.join(args.images, "*.png")))
    paths = paths[: args.count]
    net = backbone(args.network, args.effnet_src, args.cache).eval()
    normalize = torchvision.transforms.Normalize(MEAN, STD)
    with torch.no_grad():
        describe(net, paths[0], args.size, scales, normalize)  # warm-up
        start = time.perf_counter()
        for path in paths:
            describe(net, path, args.size, scales, normalize)
        seconds = time.perf_counter() - start
    print(json.dumps({
        "implementation": "pytorch " + torch.__version__, "network": args.network, "size": args.size,
        "scales": scales, "threads": args.threads, "images": len(paths),
        "seconds_per_image": seconds / len(paths), "images_per_second": len(paths) / seconds,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
