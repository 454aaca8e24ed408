"""PyTorch autograd reference for twnn's grad.onnx / train.onnx (run with /usr/bin/python3: Debian's torch 1.13).

Usage: torch_gradients.py CASE.json, where CASE.json is
  {"arch": NET, "dtype": "float32"|"float64", "loss": "mse"|"cross_entropy",
   "params": {name: {"shape", "data"}}, "x": {"shape", "data"}, "target": {"shape", "data"}}
and NET describes the network as twnn's modules do:
  {"kind": "sequential", "children": [[name, NET], ...]}
  {"kind": "dense", "inFeatures", "outFeatures", "bias"}
  {"kind": "conv2d", "inChannels", "outChannels", "kernel", "stride", "padding", "dilation", "groups", "bias"}
  {"kind": "batchNorm2d", "channels", "eps", "momentum"}
  {"kind": "maxPool2d" | "avgPool2d", "kernel", "stride", "padding"}
  {"kind": "relu" | "tanh" | "sigmoid" | "flatten" | "globalAvgPool"}
Builds the torch twin (children named as in twnn, so the state_dict keys are
twnn's parameter names), loads the params with load_state_dict(strict=True),
runs it in train mode (BatchNorm on batch statistics, updating its running
statistics), backpropagates the loss and prints
  {"loss", "grads": {name: flat}, "grad_x": flat, "buffers": {name: flat}}
as JSON, the buffers being the running statistics after the forward pass.
"""
import json
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "flatten": nn.Flatten}


def build(net):
    kind = net["kind"]
    if kind == "sequential":
        return nn.Sequential(OrderedDict((name, build(child)) for name, child in net["children"]))
    if kind == "dense":
        return nn.Linear(net["inFeatures"], net["outFeatures"], bias=net["bias"])
    if kind == "conv2d":
        return nn.Conv2d(net["inChannels"], net["outChannels"], tuple(net["kernel"]), stride=tuple(net["stride"]),
                         padding=tuple(net["padding"]), dilation=tuple(net["dilation"]), groups=net["groups"], bias=net["bias"])
    if kind == "batchNorm2d":
        return nn.BatchNorm2d(net["channels"], eps=net["eps"], momentum=net["momentum"])
    if kind == "maxPool2d":
        return nn.MaxPool2d(tuple(net["kernel"]), stride=tuple(net["stride"]), padding=tuple(net["padding"]))
    if kind == "avgPool2d":
        return nn.AvgPool2d(tuple(net["kernel"]), stride=tuple(net["stride"]), padding=tuple(net["padding"]))
    if kind == "globalAvgPool":
        return nn.AdaptiveAvgPool2d(1)
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind]()
    raise ValueError(f"torch_gradients.py: no torch twin for module kind '{kind}'")


def tensor(spec, dtype):
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])


def main():
    with open(sys.argv[1]) as f:
        case = json.load(f)
    dtype = torch.float64 if case["dtype"] == "float64" else torch.float32
    net = build(case["arch"]).to(dtype)
    state = {k: tensor(v, dtype) for k, v in case["params"].items()}
    # twnn has no counter of seen batches; torch's BatchNorm keeps one as a buffer.
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
    net.load_state_dict(state, strict=True)
    net.train()
    x = tensor(case["x"], dtype).requires_grad_(True)
    y = net(x)
    if case["loss"] == "mse":
        loss = F.mse_loss(y, tensor(case["target"], dtype))
    else:
        loss = F.cross_entropy(y, torch.tensor(case["target"]["data"], dtype=torch.int64))
    loss.backward()
    buffers = {k: v.flatten().tolist() for k, v in net.state_dict().items() if k.endswith(("running_mean", "running_var"))}
    json.dump({
        "loss": loss.item(),
        "grads": {k: p.grad.flatten().tolist() for k, p in net.named_parameters()},
        "grad_x": x.grad.flatten().tolist(),
        "buffers": buffers,
    }, sys.stdout)


if __name__ == "__main__":
    main()
