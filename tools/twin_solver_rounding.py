#!/usr/bin/python3
"""The torch half of tools/twin-solver-rounding.ts: each case's twin (its arch.json, model.onnx's weights) runs its x.npy
in inference, dense, in float32 and in float64; prints a markdown table, per scale and solver, of the rows whose sweep
count twnn (twnn.json) and the float32 twin disagree on (and of those, the ones where the twin agrees with itself in
float64), the float32 and float64 twin, and twnn and the float64 twin.

    /usr/bin/python3 tools/twin_solver_rounding.py cases.json
"""
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
import twnn_torch  # noqa: E402

SGD = {'kind': 'sgd', 'lr': 0.1, 'momentum': 0, 'weightDecay': 0}


def counts(case):
    """twnn's, the float32 twin's and the float64 twin's sweeps per row."""
    twin = twnn_torch.Twin({'arch': json.load(open(os.path.join(case['dir'], 'arch.json'))), 'model': os.path.join(case['dir'], 'model.onnx'),
                            'loss': 'mse', 'optimizer': SGD})
    x = torch.from_numpy(np.load(os.path.join(case['dir'], 'x.npy')))
    twin.net.eval()
    twin.set_mode('dense')
    region = twin.regions[0]
    with torch.inference_mode():
        twin.net(x)
        f32 = region.stats['iterations'].clone()
        twin.net.double()
        twin.net(x.double())
        f64 = region.stats['iterations'].clone()
    return torch.tensor(json.load(open(os.path.join(case['dir'], 'twnn.json')))['iterations']), f32, f64


def main():
    torch.set_num_threads(1)
    table = OrderedDict()
    for case in json.load(open(sys.argv[1])):
        ours, f32, f64 = counts(case)
        row = table.setdefault((case['scale'], case['solver']), [0, 0, 0, 0, 0, 0])
        row[0] += len(ours)
        row[1] += int((ours != f32).sum())
        row[2] += int((f32 != f64).sum())
        row[3] += int((ours != f64).sum())
        row[4] = max(row[4], int(ours.max()))
        row[5] += int(((ours != f32) & (f32 == f64)).sum())
    print('| blocks × | solver | rows | twnn ≠ twin f32 | of those, twin f32 = f64 | twin f32 ≠ twin f64 | twnn ≠ twin f64 | most sweeps (twnn) |')
    print('|---|---|---|---|---|---|---|---|')
    for (scale, solver), r in table.items():
        print(f'| {scale} | {solver} | {r[0]} | {r[1]} | {r[5]} | {r[2]} | {r[3]} | {r[4]} |')


if __name__ == '__main__':
    main()
