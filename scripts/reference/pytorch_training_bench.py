#!/usr/bin/python3
"""PyTorch side of the fine-tuning speed comparison (a reference tool, never a runtime dependency).

Per image, what a cirtorch-style fine-tuning step costs on the CPU with the bottom frozen: EfficientNet-Lite
or torchvision ResNet-50/101 (`--network resnet50`, random weights: as fast as trained ones; its units are
bottlenecks) forward (BatchNorm frozen, as cirtorch trains), GeM (learned p), L2N, whitening, L2N, a fixed linear loss,
backward through the top `--trainable-blocks` units (0: head only), an Adam step. Images are decoded and
resized beforehand on both sides. torch's threads are set explicitly with OMP_WAIT_POLICY=PASSIVE.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/reference/pytorch_training_bench.py \
        --effnet-src DIR --images ../shared/devset/images --count 10 --size 362 --trainable-blocks 2 --threads 2

Prints one JSON object: {"network", "size", "trainable_blocks", "threads", "images", "seconds_per_image"}.
"""
import argparse, glob, json, math, os, sys, time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--effnet-src", help="unpacked efficientnet-lite-pytorch wheel (EfficientNet-Lite only)")
parser.add_argument("--network", default="efficientnet-lite2")
parser.add_argument("--images", default="../shared/devset/images")
parser.add_argument("--count", type=int, default=10)
parser.add_argument("--size", type=int, default=362)
parser.add_argument("--trainable-blocks", type=int, default=2)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--cache", default=os.path.expanduser(os.environ.get("LANDMARK_CACHE", "~/.cache/landmark")))
args = parser.parse_args()
torch.set_num_threads(args.threads)

if args.network.startswith("resnet"):
    import torchvision  # noqa: E402
    resnet = getattr(torchvision.models, args.network)()
    net = torch.nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool,
                              resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)
    net.extract_features = net.forward
    units = [*resnet.layer1, *resnet.layer2, *resnet.layer3, *resnet.layer4]
    channels = 2048
else:
    sys.path.insert(0, args.effnet_src)
    from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

    net = EfficientNet.from_name(args.network)
    weights = os.path.join(args.cache, "models", args.network + ".pth")
    if os.path.exists(weights):
        net.load_state_dict(torch.load(weights, map_location="cpu"))
    units = [*net._blocks, (net._conv_head, net._bn1)]
    channels = 1280
net.eval()
for parameter in net.parameters():
    parameter.requires_grad_(False)
trainable = units[len(units) - args.trainable_blocks:] if args.trainable_blocks > 0 else []
for unit in trainable:
    for module in (unit if isinstance(unit, tuple) else (unit,)):
        for parameter in module.parameters():
            parameter.requires_grad_(True)
p = torch.nn.Parameter(torch.ones(1) * 3)
whiten = torch.nn.Linear(channels, channels)
backbone_parameters = [q for q in net.parameters() if q.requires_grad]
groups = [{"params": backbone_parameters}] if backbone_parameters else []
groups += [{"params": [p], "lr": 1e-5, "weight_decay": 0}, {"params": whiten.parameters()}]
optimizer = torch.optim.Adam(groups, lr=1e-6, weight_decay=1e-6)
target = torch.sin(torch.arange(channels, dtype=torch.float32))

normalize = lambda t: (t - torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
files = sorted(f for f in glob.glob(os.path.join(args.images, "*")) if f.lower().endswith((".jpg", ".jpeg", ".png")))[: args.count]
tensors = []
for path in files:
    image = Image.open(path).convert("RGB")
    image.thumbnail((args.size, args.size), Image.LANCZOS)
    array = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(image.size[1], image.size[0], 3)
    tensors.append(normalize(array.permute(2, 0, 1).float() / 255).unsqueeze(0))


def step(x):
    features = net.extract_features(x)
    pooled = F.avg_pool2d(features.clamp(min=1e-6).pow(p), (features.size(-2), features.size(-1))).pow(1.0 / p)
    descriptor = F.normalize(pooled.flatten(1), eps=1e-6)
    descriptor = F.normalize(whiten(descriptor), eps=1e-6)
    loss = (descriptor[0] * target).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


step(tensors[0])  # warm-up
start = time.perf_counter()
for x in tensors:
    step(x)
seconds = (time.perf_counter() - start) / len(tensors)
print(json.dumps({"network": args.network, "size": args.size, "trainable_blocks": args.trainable_blocks,
                  "threads": args.threads, "images": len(tensors), "seconds_per_image": seconds}))
