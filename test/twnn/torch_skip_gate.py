"""PyTorch reference for twnn's skip-gated basicBlock (src/twnn/skip-gate.ts),
run with /usr/bin/python3 (Debian's torch 1.13).

Usage: torch_skip_gate.py CASE.json with {"params": {name: {"shape", "data"}},
"x", "target" (labels), "stride", "groups", "threshold"}; the network is
basicBlock(Cin, Cout, {stride, norm: 'group', groups, skip}) -> global average
pool -> dense, named as twnn names it (blk.*, head.*): y = relu(shortcut(x) +
s*[s >= threshold]*branch(x)), the mask a constant. Prints {"loss", "grads":
{name: [...]}, "grad_x", "gates", "y"}: the cross-entropy, its autograd
gradients, each sample's gate, and the logits.
"""
import json
import sys

import torch
import torch.nn.functional as F


def tensor(t):
    return torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])


def main():
    with open(sys.argv[1]) as f:
        case = json.load(f)
    p = {k: tensor(v).requires_grad_() for k, v in case["params"].items()}
    x = tensor(case["x"]).requires_grad_()
    target = torch.tensor(case["target"], dtype=torch.int64)
    stride, groups, threshold = case["stride"], case["groups"], case["threshold"]

    def gn(h, name):
        return F.group_norm(h, groups, p[name + ".weight"], p[name + ".bias"], 1e-5)

    def branch(h):
        h = F.relu(gn(F.conv2d(h, p["blk.conv1.weight"], stride=stride, padding=1), "blk.bn1"))
        return gn(F.conv2d(h, p["blk.conv2.weight"], padding=1), "blk.bn2")

    def shortcut(h):
        if "blk.downsample.0.weight" not in p:
            return h
        return gn(F.conv2d(h, p["blk.downsample.0.weight"], stride=stride), "blk.downsample.1")

    def head(h):
        return F.linear(h.mean(dim=(2, 3)), p["head.weight"], p["head.bias"])

    gate = torch.sigmoid(F.linear(x.mean(dim=(2, 3)), p["blk.skip_gate.weight"], p["blk.skip_gate.bias"]))  # [B, 1]
    runs = (gate.detach() >= threshold).float()
    s = (gate * runs).reshape(-1, 1, 1, 1)
    y = head(F.relu(shortcut(x) + s * branch(x)))
    loss = F.cross_entropy(y, target)
    names = list(p.keys())
    grads = torch.autograd.grad(loss, [p[n] for n in names] + [x])
    print(json.dumps({
        "loss": loss.item(),
        "grads": {n: g.flatten().tolist() for n, g in zip(names, grads[:-1])},
        "grad_x": grads[-1].flatten().tolist(),
        "gates": gate.reshape(-1).tolist(),
        "y": y.detach().flatten().tolist(),
    }))


if __name__ == "__main__":
    main()
