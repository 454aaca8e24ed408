"""PyTorch twins of twnn test networks (run with /usr/bin/python3: Debian's torch 1.13).

Usage: torch_reference.py CASE.json, where CASE.json is
  {"net": NAME, "params": {name: {"shape", "data"}}, "x": {"shape", "data"}}.
Loads the params with load_state_dict(strict=True), so twnn's parameter names
and shapes must be exactly torch's, runs the net in eval mode in float32 and
prints {"shape", "data"} of the output as JSON.
"""
import json
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """torchvision's BasicBlock."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv)."""

    def __init__(self, cin, width, stride=1, expansion=4):
        super().__init__()
        cout = width * expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


def seq(**children):
    return nn.Sequential(OrderedDict(children))


def mnist_resnet_plain():
    """graphs/mnist-resnet-plain.ts"""
    return seq(
        stem=seq(conv=nn.Conv2d(1, 16, 3, padding=1, bias=False), bn=nn.BatchNorm2d(16), relu=nn.ReLU()),
        B1=BasicBlock(16, 16),
        B2=BasicBlock(16, 32, 2),
        B3=BasicBlock(32, 32),
        B4=BasicBlock(32, 64, 2),
        pool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(),
        head=nn.Linear(64, 10),
    )


def layer_zoo():
    """The layer zoo of test/twnn/torch.test.ts."""
    return seq(
        c1=nn.Conv2d(3, 8, (3, 5), padding=(1, 2)),
        a1=nn.LeakyReLU(0.2),
        p1=nn.MaxPool2d(3, stride=2, padding=1),
        c2=nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4),
        bn=nn.BatchNorm2d(8, eps=1e-3),
        a2=nn.Sigmoid(),
        p2=nn.AvgPool2d(3, stride=1, padding=1),
        blk=Bottleneck(8, 4, stride=2),
        p3=nn.AvgPool2d(2, stride=1),
        gap=nn.AdaptiveAvgPool2d(1),
        flat=nn.Flatten(),
        fc=nn.Linear(16, 5),
        t=nn.Tanh(),
        fc2=nn.Linear(5, 4, bias=False),
        sm=nn.Softmax(dim=-1),
    )


NETS = {"mnist-resnet-plain": mnist_resnet_plain, "layer-zoo": layer_zoo}


def main():
    with open(sys.argv[1]) as f:
        case = json.load(f)
    net = NETS[case["net"]]()
    state = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in case["params"].items()}
    # twnn has no counter of seen batches; torch's BatchNorm keeps one as a buffer.
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
    net.load_state_dict(state, strict=True)
    net.eval()
    x = torch.tensor(case["x"]["data"], dtype=torch.float32).reshape(case["x"]["shape"])
    with torch.no_grad():
        y = net(x)
    json.dump({"shape": list(y.shape), "data": y.flatten().tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
