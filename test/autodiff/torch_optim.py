"""torch.optim reference for twnn's optimizer graphs (run with /usr/bin/python3: Debian's torch 1.13).

Usage: torch_optim.py CASES.json, where CASES.json is a list of cases, each
  {"dtype": "float32"|"float64",
   "optimizer": {"kind": "sgd"|"adam"|"adamw", "momentum", "weightDecay", "betas", "eps", "clipNorm"},
   "params": [{"shape", "data"}, ...],
   "steps": [{"lr": float, "grads": [[...flat data per param], ...]}, ...]}
Sets each parameter's .grad to the given values, clips with
torch.nn.utils.clip_grad_norm_ when clipNorm is not null, and runs
optimizer.step(), once per entry of "steps". Prints, per case and step, the
flat parameters and their state ({"m": momentum_buffer or exp_avg, "v": exp_avg_sq})
as JSON (one process for all cases: importing torch takes seconds).
"""
import json
import sys

import torch


def make_optimizer(params, o, lr):
    if o["kind"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], weight_decay=o["weightDecay"])
    cls = torch.optim.Adam if o["kind"] == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weightDecay"])


def state_of(state):
    out = {}
    if state.get("momentum_buffer") is not None:
        out["m"] = state["momentum_buffer"].flatten().tolist()
    if "exp_avg" in state:
        out["m"] = state["exp_avg"].flatten().tolist()
        out["v"] = state["exp_avg_sq"].flatten().tolist()
    return out


def run(case):
    dtype = torch.float64 if case["dtype"] == "float64" else torch.float32
    params = [torch.nn.Parameter(torch.tensor(p["data"], dtype=dtype).reshape(p["shape"])) for p in case["params"]]
    o = case["optimizer"]
    opt = make_optimizer(params, o, case["steps"][0]["lr"])
    results = []
    for step in case["steps"]:
        for group in opt.param_groups:
            group["lr"] = step["lr"]
        for p, g in zip(params, step["grads"]):
            p.grad = torch.tensor(g, dtype=dtype).reshape(p.shape)
        if o["clipNorm"] is not None:
            torch.nn.utils.clip_grad_norm_(params, o["clipNorm"])
        opt.step()
        results.append({
            "params": [p.detach().flatten().tolist() for p in params],
            "state": [state_of(opt.state[p]) for p in params],
        })
    return results


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    json.dump([run(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
