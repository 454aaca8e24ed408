"""torch.nn.functional.group_norm as the reference for twnn's groupNorm2d
(run with /usr/bin/python3: Debian's torch 1.13).

Usage: torch_group_norm.py CASES.json, a list of {"groups", "eps", "x", "weight", "bias"}
and optionally "grad_y" (each tensor {"shape", "data"}); prints a list of {"shape", "data"},
the float32 outputs, with "grad_x", "grad_weight", "grad_bias" (autograd's vector-Jacobian
products with grad_y) where a case has grad_y. One run for all cases: importing torch is
what takes the time.
"""
import json
import sys

import torch
import torch.nn.functional as F


def tensor(t):
    return torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = []
    for case in cases:
        inputs = [tensor(case[k]).requires_grad_() for k in ("x", "weight", "bias")]
        y = F.group_norm(inputs[0], case["groups"], inputs[1], inputs[2], case["eps"])
        result = {"shape": list(y.shape), "data": y.detach().flatten().tolist()}
        if "grad_y" in case:
            grads = torch.autograd.grad(y, inputs, tensor(case["grad_y"]))
            for k, g in zip(("x", "weight", "bias"), grads):
                result["grad_" + k] = g.flatten().tolist()
        out.append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
