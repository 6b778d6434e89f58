#!/usr/bin/python3
"""Checks that PyTorch reads a `landmark train` export as cirtorch would (a reference tool, never a runtime
dependency): `torch.load` gives {"meta", "state_dict"}; the trunk tensors load strictly into the network
the meta names (efficientnet_lite_pytorch for EfficientNet-Lite, torchvision for ResNet); GeM's p and the
whitening have the shapes cirtorch's ImageRetrievalNet expects; and, for the given photographs, the
similarities of torch's descriptors, to compare with `landmark search`'s scores on an index built with
`--model RUN/final.pth`.

    /usr/bin/python3 scripts/reference/check_exported_checkpoint.py RUN/final.pth [--effnet-src DIR] [--images A B …] [--size 512]
"""
import argparse, json, sys
import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("checkpoint")
parser.add_argument("--effnet-src", help="unpacked efficientnet-lite-pytorch 0.1.0 wheel (EfficientNet-Lite exports)")
parser.add_argument("--images", nargs="*", default=[])
parser.add_argument("--size", type=int, default=512)
args = parser.parse_args()

saved = torch.load(args.checkpoint, map_location="cpu")
assert set(saved) >= {"meta", "state_dict"}, f"keys {sorted(saved)}: not cirtorch's layout"
meta, state = saved["meta"], saved["state_dict"]
architecture = meta["architecture"]
head = {k: v for k, v in state.items() if k.startswith(("pool.", "whiten."))}
trunk = {k[len("features."):] if k.startswith("features.") else k: v for k, v in state.items() if k not in head}
if architecture.startswith("efficientnet"):
    sys.path.insert(0, args.effnet_src or ".")
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_name(architecture, image_size=None)  # TF-"same" padding computed per input size
    net.eval()
    missing, unexpected = net.load_state_dict(trunk, strict=False)
    assert not [k for k in missing if not k.startswith("_fc")], f"trunk tensors missing: {missing[:5]}"
    features = net.extract_features
elif architecture.startswith("resnet"):
    import torchvision
    resnet = getattr(torchvision.models, architecture)()
    missing, unexpected = resnet.load_state_dict(trunk, strict=False)
    assert not [k for k in missing if not k.startswith("fc")], f"trunk tensors missing: {missing[:5]}"
    resnet.eval()
    body = torch.nn.Sequential(*list(resnet.children())[:-2])
    features = body
else:
    raise SystemExit(f"unknown architecture {architecture}")
assert not unexpected, f"tensors the network does not have: {unexpected[:5]}"
p = head["pool.p"]
channels = {"efficientnet-lite0": 1280, "efficientnet-lite2": 1280}.get(architecture, 2048)
assert p.shape == (1,), f"pool.p has shape {tuple(p.shape)}"
if "whiten.weight" in head:
    assert head["whiten.weight"].shape == (channels, channels) and head["whiten.bias"].shape == (channels,)
result = {"architecture": architecture, "tensors": len(state), "p": float(p), "whitening": "whiten.weight" in head,
          "meta": {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool))}}
descriptors = []
for path in args.images:
    from PIL import Image
    image = Image.open(path).convert("RGB")
    image.thumbnail((args.size, args.size), Image.LANCZOS)
    x = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(image.size[1], image.size[0], 3)
    x = x.permute(2, 0, 1).float().div(255)
    x = ((x - torch.tensor(meta["mean"]).view(3, 1, 1)) / torch.tensor(meta["std"]).view(3, 1, 1)).unsqueeze(0)
    with torch.no_grad():
        f = features(x).clamp(min=1e-6).pow(p)
        d = F.normalize(F.avg_pool2d(f, (f.size(-2), f.size(-1))).pow(1.0 / p).flatten(1), eps=1e-6)
        if "whiten.weight" in head:
            d = F.normalize(F.linear(d, head["whiten.weight"], head["whiten.bias"]), eps=1e-6)
    descriptors.append(d[0])
if descriptors:
    result["similarities"] = [[round(float(a @ b), 6) for b in descriptors] for a in descriptors]
print(json.dumps(result))
