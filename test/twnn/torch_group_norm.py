"""torch.nn.functional.group_norm as the reference for twnn's groupNorm2d
(run with /usr/bin/python3: Debian's torch 1.13).

Usage: torch_group_norm.py CASES.json, a list of {"groups", "eps", "x", "weight", "bias"}
(each tensor {"shape", "data"}); prints a list of {"shape", "data"}, the float32 outputs.
One run for all cases: importing torch is what takes the time.
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
        y = F.group_norm(tensor(case["x"]), case["groups"], tensor(case["weight"]), tensor(case["bias"]), case["eps"])
        out.append({"shape": list(y.shape), "data": y.flatten().tolist()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
