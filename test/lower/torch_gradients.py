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
import os
import sys

import torch
import torch.nn.functional as F

# The torch twins of twnn's layers, shared with `twnn bench torch`.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
from twnn_torch import build  # noqa: E402


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
