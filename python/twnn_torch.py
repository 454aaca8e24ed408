#!/usr/bin/python3
"""A PyTorch reference of twnn's TWNNs, the baseline of `twnn bench torch`.

Run with /usr/bin/python3 (Debian's torch 1.13, onnx 1.12, numpy), as a worker
that reads one JSON command per line on stdin and answers one JSON line on
stdout (lab/bench/torch-worker.ts drives it). OpenBLAS fixes its thread count
when the process starts, so the bench runs one worker per OPENBLAS_NUM_THREADS
setting; torch's own threads are set per command.

The network comes from a JSON description that twnn writes from the model spec
(src/runtime/torch/arch.ts), the weights from model.onnx's initializers (the
state_dict keys are twnn's parameter names), and each fixed-point region
follows the region's `twnn.loop:<region>/iterate` metadata:

  S_1 = F(0)  (the plain network);  S_{t+1} = F(S_t) per sample until
  residual(S_{t+1}, S_t) <= tol or maxIter sweeps; a sample that never settles
  returns its best iterate (lowest residual) when returnIterate is 'best'. With
  the anderson or broyden solver (and backwardSolver, for the adjoint below) a
  step that does not settle moves to the solver's mix instead of F(S_t), step
  for step as twnn's (python/twnn_solvers.py).

Training differentiates each region implicitly, as twnn's adjoint Loop does
(src/lower/adjoint.ts): one sweep at S* with grad gives the region output
y = O(S*) and the linearisation A = dF/dS; with ybar the cotangent of y,
  gbar = (dO/dS)^T ybar,   w <- gbar + A^T w   from w = gbar, per sample until
  ||dw||_2 <= backwardTol * ||gbar||_2 (backwardNorm 'relative'),
then the parameter and input gradients (dO/dtheta)^T ybar + (dF/dtheta)^T w,
all by torch.autograd.grad vector-Jacobian products. The other backward modes
(src/lower/backward-modes.ts):
  phantom:k  the same, the adjoint truncated to k - 1 steps w <- gbar + A^T w
             from w = gbar on every row, no stopping test (src/lower/phantom.ts);
  unrolled   autograd through the sweeps the forward took (src/lower/unrolled.ts):
             the settling runs with grad and out-of-place writes, so a frozen
             row passes its cotangent through a step unchanged and a row that
             returns its best iterate is differentiated through the steps up to
             that iterate; each row counts those steps as its adjoint steps.
             twnn's unrolled lowering reports no Jacobian penalty (train.onnx has
             none for such a region), so neither does the twin.

A region's Jacobian penalty (src/lower/jacobian.ts), in training steps only (as
train.onnx; grad.onnx's gradient is the task loss's): gamma * mean_b
||eps^T dF/dS||^2 / d at S*, eps the same int64-hashed Rademacher probe of the
step number. S* is an output of the FixedPoint function, so the penalty's
cotangent on S* joins g_bar above, as in twnn's adjoint. Skip-gated blocks
(GatedResidual) pay cost * mean(gate) there too, their gates taken on the same
differentiable sweep at S*. A contractive region scales each wormhole by
alpha = min(1, beta/||P||), beta from the blocks' certified Lipschitz bounds
(src/twnn/contractive.ts, lipschitz.ts), recomputed from the weights every sweep.
With task.train.fpCorrection (src/lower/fp-correction.ts) a training step keeps
each sample's detached iterates S_{t_k}, t_k = max(1, floor(k T/(n+1))), runs
the network again per term k with each region's output O(F^p(S_{t_k})), and
adds gamma^(n+1-k) times that pass's task loss.

Two ways to sweep, both exact:
  dense   every sweep (and adjoint step) runs the whole batch; settled samples
          are frozen with torch.where (what twnn's `sweeps: 'dense'` Loop does);
  active  each sweep runs only the unsettled rows (index_select / index_copy_),
          and the adjoint re-linearises on the unsettled rows once they are
          half of the rows it linearised (a sweep with grad on those rows),
          as a DEQ written by hand in PyTorch would.

Commands ({"cmd": ..., ...} -> {"ok": true, ...} or {"ok": false, "error"}):
  hello                          versions, BLAS, threads
  load   key, model, arch, loss, optimizer      build the twin, load the weights
  data   key, path                               an .npy array (x or target)
  infer  model, x, start, count, batch, mode, threads, out?
         inference (inference_mode, eval) over rows [start, start+count) in
         batches; returns the summed seconds of the forward calls; with `out`
         writes y.npy and iterations.<region>.npy there
  grad   model, x, target, start, count, mode, threads, out
         loss, every parameter's gradient (grad.<name>.npy), grad.x, counts
  step   model, x, target, start, count, mode, threads, out?, step? (the key of Jacobian penalties' probes; 1)
         one optimizer step from the loaded weights and a zero optimizer state
         (reset before the step, untimed); returns its seconds; with `out`
         writes the new parameters (<name>.new.npy), the gradients the
         optimizer took (grad.<name>.npy) and the counts; `jacobianPenalty`, `skipCost` with them
"""
import json
import math
import os
import signal
import sys
import time
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

from twnn_solvers import SETTING_KEYS, put, solver_of, take

INF = float('inf')


# ----------------------------------------------------------------------------
# The network, built from twnn's description


class Residual(nn.Module):
    """relu(main(x) + shortcut(x)); the main layers are direct children, so their keys are twnn's (conv1, bn1, ...)."""

    def __init__(self, main, downsample):
        super().__init__()
        self.order = [name for name, _ in main]
        for name, module in main:
            self.add_module(name, module)
        self.downsample = downsample

    def forward(self, x):
        h = x
        for name in self.order:
            h = self._modules[name](h)
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class GatedResidual(Residual):
    """relu(shortcut(x) + (s * [s >= threshold]) main(x)), s = sigmoid(w . mean_hw(x) + c) per sample (src/twnn/skip-gate.ts;
    threshold 0: s main(x)). Dense in every mode: a closed gate's row is relu(shortcut(x)), which twnn's inference graph
    computes by running the branch on the open rows only. Keeps the last gate, whose mean the training loss pays for."""

    def __init__(self, main, downsample, skip):
        super().__init__(main, downsample)
        self.threshold, self.cost = skip['threshold'], skip['cost']
        self.skip_gate = nn.Linear(skip['channels'], 1)
        self.gate = None

    def forward(self, x):
        s = torch.sigmoid(self.skip_gate(x.mean((2, 3))))  # [B, 1]
        self.gate = s.reshape(-1)
        if self.threshold > 0:
            s = s * (s >= self.threshold).to(s.dtype)
        h = x
        for name in self.order:
            h = self._modules[name](h)
        return F.relu((x if self.downsample is None else self.downsample(x)) + s.view(-1, 1, 1, 1) * h)


class Wormhole(nn.Module):
    """g * P(s), g = sigmoid(G [h; P(s)] + c): block `from`'s previous output into block `to`'s input. In a contractive
    region (src/twnn/wormhole.ts) g = sigmoid(G h + c) and the term is g * (alpha P(s)), alpha = min(1, budget/||P||)."""

    def __init__(self, spec, contractive=False):
        super().__init__()
        self.contractive = contractive
        self.source, self.target = spec['from'], spec['to']
        p = spec['projection']
        if p['kind'] == 'linear':
            self.proj = nn.Linear(p['inFeatures'], p['outFeatures'], bias=False)
        elif p['kind'] == 'conv1x1':
            self.proj = nn.Conv2d(p['inChannels'], p['outChannels'], 1, bias=False)
        elif p['kind'] == 'convTranspose':
            self.proj = nn.ConvTranspose2d(p['inChannels'], p['outChannels'], p['stride'], stride=p['stride'], bias=False)
        elif p['kind'] == 'identity':
            self.proj = None
        else:
            raise ValueError(f"wormhole {self.source} -> {self.target}: no projection '{p['kind']}'")
        d = spec['gate']['features']
        inputs = d if contractive else 2 * d
        self.gate = nn.Linear(inputs, d) if spec['gate']['kind'] == 'dense' else nn.Conv2d(inputs, d, 1)

    def forward(self, h, s, budget=None):
        p = s if self.proj is None else self.proj(s)
        if budget is not None:
            return torch.sigmoid(self.gate(h)) * (p * self.shrink(budget))
        return torch.sigmoid(self.gate(torch.cat([h, p], 1))) * p

    def shrink(self, budget):
        """alpha = budget / max(||P||, budget), ||P|| bounded as src/twnn/wormhole.ts's `project` does."""
        budget = torch.as_tensor(budget, dtype=self.gate.weight.dtype)
        if self.proj is None:
            return budget / torch.clamp(budget, min=1.0)
        # Linear [out, in], 1x1 conv [out, in, 1, 1], transposed conv [in, out, s, s] (exact: its patches do not overlap).
        w = self.proj.weight
        return budget / torch.maximum(spectral_bound(w.reshape(w.shape[0], -1)), budget)


# ----------------------------------------------------------------------------
# Certified Lipschitz bounds (src/twnn/lipschitz.ts), from the current weights


def spectral_bound(w):
    """||W||_2 <= ||(W W^T)^2||_F^(1/4) (Schatten-8) for a 2-D weight, the Gram matrix on the smaller side."""
    m, n = w.shape
    gram = w @ w.t() if m <= n else w.t() @ w
    squared = gram @ gram
    return ((squared * squared).sum() + 1e-30).sqrt().sqrt().sqrt()


def lipschitz(m, where):
    """A Lipschitz bound of module m in l2 per sample: a float, or a scalar tensor of the weights."""
    if isinstance(m, nn.Linear):
        return spectral_bound(m.weight)
    if isinstance(m, nn.Conv2d):
        covers = lambda k, s, d: min(k, -(-((k - 1) * d + 1) // s))
        (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
        factor = math.sqrt(covers(kh, sh, dh) * covers(kw, sw, dw))
        norm = spectral_bound(m.weight.reshape(m.weight.shape[0], -1))
        return norm if factor == 1 else norm * factor
    if isinstance(m, (nn.ReLU, nn.Tanh)):
        return 1.0
    if isinstance(m, nn.Sigmoid):
        return 0.25
    if isinstance(m, nn.LeakyReLU):
        return max(1.0, abs(m.negative_slope))
    if isinstance(m, nn.Sequential):
        return bound_product([lipschitz(c, f'{where}.{n}') for n, c in m.named_children()])
    if type(m) is Residual:
        main = bound_product([lipschitz(m._modules[n], f'{where}.{n}') for n in m.order])
        return bound_sum([main, 1.0 if m.downsample is None else lipschitz(m.downsample, f'{where}.downsample')])
    raise ValueError(f"layer '{where}' ({type(m).__name__}) has no Lipschitz bound in the torch twin")


def bound_product(bounds):
    """Constants folded first, then the tensors, as src/twnn/lipschitz.ts's `fold`."""
    return fold(bounds, 1.0, lambda a, b: a * b)


def bound_sum(bounds):
    return fold(bounds, 0.0, lambda a, b: a + b)


def fold(bounds, unit, op):
    constant = unit
    for b in bounds:
        if not torch.is_tensor(b):
            constant = op(constant, b)
    values = [b for b in bounds if torch.is_tensor(b)]
    if not values:
        return constant
    joined = values[0]
    for v in values[1:]:
        joined = op(joined, v)
    return joined if constant == unit else op(joined, torch.tensor(constant, dtype=joined.dtype))


def rows_of(tensors):
    """Each sample's state tensors as one row: [B, n]."""
    flat = [t.flatten(1) for t in tensors]
    return flat[0] if len(flat) == 1 else torch.cat(flat, 1)


def row_norm(tensors):
    r = rows_of(tensors)
    return torch.sqrt((r * r).sum(1))


def residual_norm(new, old, norm, scale=None):
    """Per-sample residual, as src/lower/settle.ts's residualNorm."""
    d = rows_of([a - b for a, b in zip(new, old)])
    if norm == 'max':
        return d.abs().amax(1)
    if norm == 'rms':
        return torch.sqrt((d * d).mean(1))
    size = row_norm(new) if scale is None else scale
    return torch.sqrt((d * d).sum(1)) / torch.where(size > 0, size, torch.ones_like(size))


def mask_like(mask, t):
    return mask.view(-1, *([1] * (t.dim() - 1)))


def detached(tensors):
    return [t.detach() for t in tensors]


def put_rows(t, rows, values):
    """t with `rows` replaced by `values`: in place without grad; with grad (the unrolled backward) a new tensor, so the
    values the earlier sweeps saved for their backward stay as they were."""
    return t.index_copy(0, rows, values) if torch.is_grad_enabled() else t.index_copy_(0, rows, values)


def finite_json(value):
    """`value` with each non-finite float as None, as JavaScript's JSON.stringify writes NaN and ±Infinity (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def json_line(value, **options):
    """One line of JSON that Node's JSON.parse reads: a NaN loss becomes null rather than the bare `NaN` json.dumps writes."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite_json(value), allow_nan=False, **options)



# What Region follows of an iterate record (src/contract/iterator-record.ts); `sweeps` and `compactBelow` change
# how twnn's Loop sweeps, not what it computes.
REGION_KEYS = {'role', 'region', 'node', 'tol', 'maxIter', 'minIter', 'norm', 'solver', 'returnIterate', 'onMaxIter', 'wormholes',
               'backward', 'backwardTol', 'backwardMaxIter', 'backwardNorm', 'backwardSolver', 'jacobianPenalty', 'sweeps', 'compactBelow',
               'contractive'} | SETTING_KEYS


def backward_mode(path, label):
    """A region's `backward` label (src/contract/iterator-record.ts's backwardLabel) as (mode, phantom adjoint steps k - 1 or None)."""
    mode, _, k = label.partition(':')
    if mode in ('implicit', 'unrolled') and not k:
        return mode, None
    if mode == 'phantom' and k.isdigit() and int(k) >= 1:
        return mode, int(k) - 1
    raise ValueError(f"region '{path}': backward '{label}' has no torch reference (it has implicit, unrolled, phantom:k)")


class Region(nn.Module):
    """A fixed-point region: blocks, wormholes, and the settling rule of its iterate Loop."""

    def __init__(self, spec):
        super().__init__()
        self.path = spec['path']
        self.block_names = [name for name, _ in spec['blocks']]
        for name, block in spec['blocks']:
            self.add_module(name, build(block))
        c = spec['config']
        # contractive: the bound rho; every wormhole enters one block (src/twnn/contractive.ts).
        self.contractive = c.get('contractive') or None
        self.wormholes = []
        for w in spec['wormholes']:
            module = Wormhole(w, contractive=self.contractive is not None)
            self.add_module(w['scope'], module)
            self.wormholes.append(module)
        self.sources = sorted({w.source for w in self.wormholes})
        self.solver, self.backward_solver = (solver_of(c, prefix, f"region '{self.path}'") for prefix in ('', 'backward'))
        self.backward, self.phantom_steps = backward_mode(self.path, c['backward'])
        # Anything else the record sets changes the model or its training (a contractive bound rescales the
        # wormholes every sweep): refused by name rather than trained as a different network.
        other = [k for k in c if k not in REGION_KEYS and c[k] not in (None, 0, False)]
        if other:
            raise ValueError(f"region '{self.path}': " + ', '.join(f'{k} {c[k]!r}' for k in other) + ' has no torch reference')
        self.cfg = c
        self.gated = any(isinstance(m, GatedResidual) and m.cost > 0 for m in self.modules())
        self.mode = 'dense'
        self.stats = {}
        # The optimizer step that draws the Jacobian penalty's probe (train.onnx's `step`); None: no penalty (grad.onnx).
        self.key = None
        self.penalty = None
        # A fixed-point correction (src/lower/fp-correction.ts): how many iterates to keep in a training step, the ones
        # kept, and the term a correction pass builds (None: the task's pass).
        self.correction_terms = 0
        self.iterates = None
        self.term = None

    def sweep(self, a, s):
        """F: the blocks in order, wormholes reading the previous sweep's sources `s` (None: the first, plain sweep)."""
        h = a
        outputs = []
        budget = self.budget() if s is not None and self.contractive is not None else None
        for k, name in enumerate(self.block_names):
            u = h
            if s is not None:
                for w in self.wormholes:
                    if w.target == k + 1:
                        u = u + w(h, s[self.sources.index(w.source)], budget)
            h = self._modules[name](u)
            outputs.append(h)
        return [outputs[j - 1] for j in self.sources], h

    def budget(self):
        """beta = rho / (n c), c = sum over the sources j of the product of the blocks' bounds from the target to j
        (src/twnn/contractive.ts's `wormholeBudget`), from the current weights."""
        target = self.wormholes[0].target
        lip = [lipschitz(self._modules[self.block_names[k - 1]], f'{self.path}.{self.block_names[k - 1]}') for k in range(target, max(self.sources) + 1)]
        c = bound_sum([bound_product(lip[:j - target + 1]) for j in self.sources])
        numerator = self.contractive / len(self.wormholes)
        return numerator / c if not torch.is_tensor(c) else torch.tensor(numerator, dtype=c.dtype) / c

    def forward(self, a):
        if self.term is not None:
            return self.correction_output(a, *self.term)
        if torch.is_grad_enabled() and self.backward == 'unrolled':
            y = self.unrolled(a)
            if self.key is not None and self.correction_terms > 0:
                self.iterates = self.correction_iterates(a.detach(), self.correction_terms)
            return y
        if torch.is_grad_enabled():
            params = [p for p in self.parameters() if p.requires_grad]
            y, *s_star = FixedPoint.apply(self, a, *params)
            weight = self.cfg.get('jacobianPenalty', 0)
            self.penalty = None
            if self.key is not None and (weight > 0 or self.gated):
                # twnn's sweep at S*, differentiable through S* into the adjoint: the penalty's VJP and the gates the
                # skip cost pays for are taken there.
                s_new, _ = self.sweep(a, s_star)
                if weight > 0:
                    self.penalty = self.jacobian_penalty(s_star, s_new, weight)
            if self.key is not None and self.correction_terms > 0:
                self.iterates = self.correction_iterates(a.detach(), self.correction_terms)
            return y
        s, out = self.solve(a, keep_output=True)
        return out

    def unrolled(self, a):
        """Backward `unrolled`: the settling itself with grad, then twnn's sweep at S* for the output (and the skip
        gates); each row's adjoint steps are the steps its cotangent is replayed through."""
        self.penalty = None
        s_star, _ = self.solve(a, keep_output=False)
        self.stats['iterations_backward'] = self.stats['replayed']
        _, y = self.sweep(a, s_star)
        return y

    def correction_iterates(self, a, n):
        """Each sample's iterate S_{t_k}, t_k = max(1, floor(k T / (n + 1))) of its T forward sweeps, k = 1..n: plain
        sweeps of the whole batch from S_1 = F(0), detached (src/lower/fp-correction.ts's `correctionIterates`)."""
        with torch.no_grad(), frozen_running_stats(self):
            at = [torch.clamp(self.stats['iterations'] * k // (n + 1), min=1) for k in range(1, n + 1)]
            s, _ = self.sweep(a, None)
            kept = [[t.clone() for t in s] for _ in at]
            for i in range(int(at[-1].max()) - 1):
                s, _ = self.sweep(a, s)
                for k, t_k in enumerate(at):
                    now = t_k == i + 2
                    kept[k] = [torch.where(mask_like(now, t), t, old) for t, old in zip(s, kept[k])]
        return kept

    def correction_output(self, a, k, phantom_steps):
        """Correction term k's region output: O(F^p(z_k)), p phantom sweeps from the detached iterate z_k, reading this
        pass's region input (src/twnn/region-sweeps.ts's `correctionOutput`)."""
        s = self.iterates[k - 1]
        for _ in range(phantom_steps):
            s, out = self.sweep(a, s)
        return out

    def jacobian_penalty(self, s_star, s_new, weight):
        """gamma * mean over the batch of ||eps^T dF/dS||^2 / d at S* (src/lower/jacobian.ts), eps its hashed Rademacher probe.
        S* is FixedPoint's output, so the penalty's cotangent on S* joins the adjoint's g_bar there, as in twnn's graph;
        create_graph lets the loss's backward differentiate the probe's VJP again."""
        probes = [rademacher(t, self.key, j + 1).expand_as(t) for j, t in enumerate(s_new)]
        e_tj = [t for t in torch.autograd.grad(s_new, s_star, probes, create_graph=True, allow_unused=True) if t is not None]
        if not e_tj:
            raise ValueError(f"region '{self.path}': jacobianPenalty: the sweep does not depend on its state")
        rows = rows_of(e_tj)
        d = sum(t[0].numel() for t in s_star)
        return ((rows * rows).sum(1) / d).mean() * weight

    # -- forward fixed point (no grad, or with grad for the unrolled backward)

    def solve(self, a, keep_output):
        c = self.cfg
        s, out = self.sweep(a, None)
        b = a.shape[0]
        iters = torch.ones(b, dtype=torch.int64)
        residual = torch.full((b,), INF, dtype=a.dtype)
        keep_best = c['returnIterate'] == 'best'
        best = [t.clone() for t in s] + ([out.clone()] if keep_output else []) if keep_best else []
        best_res = residual.clone()
        # Per row, the steps it took and those up to its best iterate: what the unrolled backward replays.
        took = (torch.zeros(b, dtype=torch.int64), torch.zeros(b, dtype=torch.int64))
        solve = self._solve_active if self.mode == 'active' else self._solve_dense
        s, out, best, best_res, iters, residual = solve(a, s, out, best, best_res, iters, residual, keep_output, took)
        unsettled = (residual > c['tol']) & (residual < INF)
        self.stats['replayed'] = torch.where(unsettled, took[1], took[0]) if keep_best else took[0]
        if keep_best and bool(unsettled.any()):
            s = [torch.where(mask_like(unsettled, t), bt, t) for t, bt in zip(s, best)]
            if keep_output:
                out = torch.where(mask_like(unsettled, out), best[-1], out)
            residual = torch.where(unsettled, best_res, residual)
        self.stats['iterations'] = iters
        self.stats['residual'] = residual
        return s, out

    def _solve_dense(self, a, s, out, best, best_res, iters, residual, keep_output, took):
        c = self.cfg
        done = torch.zeros(a.shape[0], dtype=torch.bool)
        memory = self.solver.start(s)
        for step in range(c['maxIter'] - 1):
            s_new, out_new = self.sweep(a, s)
            res = residual_norm(detached(s_new), detached(s), c['norm'])
            active = ~done
            finite = res < INF
            iters = iters + active.long()
            may_stop = ~(res > c['tol'])
            if c['minIter'] > 1:
                may_stop = may_stop & (iters >= c['minIter'])
            adopt = active & finite
            took[0].add_(adopt.long())
            if best:
                improved = adopt & (res < best_res)
                cand = s_new + ([out_new] if keep_output else [])
                best = [torch.where(mask_like(improved, t), n, t) for t, n in zip(best, cand)]
                best_res = torch.where(improved, res, best_res)
                took[1].copy_(torch.where(improved, took[0], took[1]))
            candidates, memory = self.solver.step(memory, s, s_new, adopt & may_stop, step == 0)
            s = [torch.where(mask_like(adopt, t), n, t) for t, n in zip(s, candidates)]
            if keep_output:
                out = torch.where(mask_like(adopt, out), out_new, out)
            residual = torch.where(active, res, residual)
            done = done | may_stop | ~finite
            if bool(done.all()):
                break
        return s, out, best, best_res, iters, residual

    def _solve_active(self, a, s, out, best, best_res, iters, residual, keep_output, took):
        c = self.cfg
        b = a.shape[0]
        idx = torch.arange(b)
        memory = self.solver.start(s)
        if keep_output and any(t is out for t in s):
            # The last block is a source: its output is that state's tensor, written in place below, and a mixing
            # solver's next state is not the sweep's output.
            out = out.clone()
        for step in range(c['maxIter'] - 1):
            whole = idx.numel() == b
            a_i = a if whole else a.index_select(0, idx)
            s_i = s if whole else [t.index_select(0, idx) for t in s]
            s_new, out_new = self.sweep(a_i, s_i)
            res = residual_norm(detached(s_new), detached(s_i), c['norm'])
            finite = res < INF
            iters.index_add_(0, idx, torch.ones_like(idx))
            goes_on = (res > c['tol']) & finite
            if c['minIter'] > 1:
                goes_on = goes_on | (finite & (iters.index_select(0, idx) < c['minIter']))
            if bool(finite.all()):
                rows, kept = idx, None
            else:
                rows, kept = idx[finite], finite
            took[0].index_add_(0, rows, torch.ones_like(rows))
            if best:
                improved = finite & (res < best_res.index_select(0, idx))
                if bool(improved.any()):
                    better = idx[improved]
                    cand = s_new + ([out_new] if keep_output else [])
                    best = [put_rows(t, better, n[improved]) for t, n in zip(best, cand)]
                    best_res.index_copy_(0, better, res[improved])
                    took[1].index_copy_(0, better, took[0].index_select(0, better))
            # The best iterate is the sweep's output; the next state is the solver's (the sweep's for plain).
            on = None if whole else idx
            s_new, memory_i = self.solver.step(take(memory, on), s_i, s_new, finite & ~goes_on, step == 0)
            memory = put(memory, on, memory_i)
            s = [put_rows(t, rows, n if kept is None else n[kept]) for t, n in zip(s, s_new)]
            if keep_output:
                out = put_rows(out, rows, out_new if kept is None else out_new[kept])
            residual.index_copy_(0, idx, res)
            idx = idx[goes_on]
            if idx.numel() == 0:
                break
        return s, out, best, best_res, iters, residual

    # -- adjoint fixed point (inside FixedPoint.backward)

    def adjoint(self, lin, g_bar):
        """w <- g_bar + A^T w per sample; `lin` re-runs the sweep with grad on given rows (active mode)."""
        if self.phantom_steps is not None:
            return self.phantom(lin, g_bar)
        c = self.cfg
        tol, norm, max_iter = c['backwardTol'], c['backwardNorm'], c['backwardMaxIter']
        scale = row_norm(g_bar) if norm == 'relative' else None
        b = g_bar[0].shape[0]
        iters = torch.zeros(b, dtype=torch.int64)
        w = list(g_bar)
        memory = self.backward_solver.start(w)
        if self.mode == 'dense':
            s_star, s_new = lin.s_star, lin.s_new
            done = torch.zeros(b, dtype=torch.bool)
            for step in range(max_iter):
                a_tw = torch.autograd.grad(s_new, s_star, w, retain_graph=True, allow_unused=True)
                w_new = [g if t is None else g + t for g, t in zip(g_bar, a_tw)]
                res = residual_norm(w_new, w, norm, scale)
                active = ~done
                finite = res < INF
                iters = iters + active.long()
                adopt = active & finite
                w_new, memory = self.backward_solver.step(memory, w, w_new, adopt & ~(res > tol), step == 0)
                w = [torch.where(mask_like(adopt, t), n, t) for t, n in zip(w, w_new)]
                done = done | ~(res > tol) | ~finite
                if bool(done.all()):
                    break
        else:
            w = [g.clone() for g in g_bar]
            idx = torch.arange(b)
            rows, s_star, s_new = idx, lin.s_star, lin.s_new
            for step in range(max_iter):
                if idx.numel() * 2 <= rows.numel():
                    rows = idx
                    s_star, s_new = lin.on_rows(rows)
                seed = w if rows.numel() == b else [t.index_select(0, rows) for t in w]
                a_tw = torch.autograd.grad(s_new, s_star, seed, retain_graph=True, allow_unused=True)
                if rows.numel() != idx.numel():
                    position = torch.full((b,), -1, dtype=torch.int64)
                    position[rows] = torch.arange(rows.numel())
                    pick = position.index_select(0, idx)
                    a_tw = [None if t is None else t.index_select(0, pick) for t in a_tw]
                whole = idx.numel() == b
                g_i = g_bar if whole else [g.index_select(0, idx) for g in g_bar]
                w_i = w if whole else [t.index_select(0, idx) for t in w]
                w_new = [g if t is None else g + t for g, t in zip(g_i, a_tw)]
                res = residual_norm(w_new, w_i, norm, None if scale is None else scale.index_select(0, idx))
                finite = res < INF
                iters.index_add_(0, idx, torch.ones_like(idx))
                on = None if whole else idx
                w_new, memory_i = self.backward_solver.step(take(memory, on), w_i, w_new, finite & ~(res > tol), step == 0)
                memory = put(memory, on, memory_i)
                all_finite = bool(finite.all())
                keep = idx if all_finite else idx[finite]
                for t, n in zip(w, w_new):
                    t.index_copy_(0, keep, n if all_finite else n[finite])
                idx = idx[(res > tol) & finite]
                if idx.numel() == 0:
                    break
        return w, iters


    def phantom(self, lin, g_bar):
        """Backward `phantom:k`: k - 1 steps w <- g_bar + A^T w from w = g_bar on every row, no stopping test (twnn's
        `<region>/phantom` Loop sweeps the whole batch in either sweep mode); each row reports k - 1 steps."""
        w = list(g_bar)
        for _ in range(self.phantom_steps):
            a_tw = torch.autograd.grad(lin.s_new, lin.s_star, w, retain_graph=True, allow_unused=True)
            w = [g if t is None else g + t for g, t in zip(g_bar, a_tw)]
        return w, torch.full((g_bar[0].shape[0],), self.phantom_steps, dtype=torch.int64)


class frozen_running_stats:
    """Batch norm in training mode that leaves its running statistics alone (momentum 0): a correction pass
    normalises with its own batch, and the running statistics follow the task's pass alone, as in twnn's graph."""

    def __init__(self, net):
        self.norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]

    def __enter__(self):
        self.saved = [m.momentum for m in self.norms]
        for m in self.norms:
            m.momentum = 0.0

    def __exit__(self, *exc):
        for m, momentum in zip(self.norms, self.saved):
            m.momentum = momentum


MODULUS = 2147483647  # 2^31 - 1: every product of two residues fits in int64


def rademacher(like, key, salt):
    """+-1 in like's dtype, shaped [1, ...like's dims past the batch]: src/lower/jacobian.ts's `rademacher`, the same int64
    hash of each element's index, the key (the optimizer step) and the salt (1 + the state's index). Every value is
    non-negative, so floor division is ONNX's truncating Div."""
    dims = tuple(like.shape[1:])
    mod = lambda v: v - (v // MODULUS) * MODULUS
    index = torch.arange(int(np.prod(dims, dtype=np.int64)), dtype=torch.int64).view(1, *dims)
    seed = mod(mod(torch.tensor(int(key), dtype=torch.int64)) * 1000003 + salt * 7919)
    h = mod(index * 69069 + (seed + 12345))
    h = mod(h * h + 1013904223)
    h = mod(h * 48271)
    h = mod(h * h + seed)
    h = mod(h * 16807)
    bit = h // (1 << 16) - (h // (1 << 17)) * 2
    return bit.to(like.dtype) * 2 - 1


class Linearisation:
    """The sweep at S* with grad (whole batch), and the same on a subset of rows for the active adjoint."""

    def __init__(self, region, a, s_star):
        self.region, self.a = region, a
        self.s_star = [t.detach().requires_grad_() for t in s_star]
        with torch.enable_grad():
            self.s_new, self.out = region.sweep(a, self.s_star)

    def on_rows(self, rows):
        s_star = [t.detach().index_select(0, rows).requires_grad_() for t in self.s_star]
        with torch.enable_grad():
            s_new, _ = self.region.sweep(self.a.detach().index_select(0, rows), s_star)
        return s_star, s_new


class FixedPoint(torch.autograd.Function):
    """A region with the implicit backward of src/lower/adjoint.ts."""

    @staticmethod
    def forward(ctx, region, a, *params):
        with torch.no_grad():
            s_star, _ = region.solve(a, keep_output=False)
        a_leaf = a.detach().requires_grad_(a.requires_grad)
        lin = Linearisation(region, a_leaf, s_star)
        ctx.region, ctx.lin, ctx.params = region, lin, params
        ctx.needs_a = a.requires_grad
        # y and S*: a Jacobian penalty reads S*, and its cotangent there joins g_bar.
        return (lin.out.detach(), *[t.detach().clone() for t in lin.s_star])

    @staticmethod
    def backward(ctx, y_bar, *s_bar):
        region, lin = ctx.region, ctx.lin
        g_bar = torch.autograd.grad(lin.out, lin.s_star, y_bar, retain_graph=True, allow_unused=True)
        g_bar = [sb if g is None else g + sb for g, sb in zip(g_bar, s_bar)]
        w, iters = region.adjoint(lin, g_bar)
        region.stats['iterations_backward'] = iters
        wrt = ([lin.a] if ctx.needs_a else []) + list(ctx.params)
        grads = list(torch.autograd.grad([lin.out] + lin.s_new, wrt, [y_bar] + w, allow_unused=True))
        ctx.lin = None
        a_grad = grads.pop(0) if ctx.needs_a else None
        return (None, a_grad, *grads)


ACTIVATIONS = {'relu': nn.ReLU, 'tanh': nn.Tanh, 'sigmoid': nn.Sigmoid, 'flatten': nn.Flatten}


def build(net):
    kind = net['kind']
    if kind == 'sequential':
        return nn.Sequential(OrderedDict((name, build(child)) for name, child in net['children']))
    if kind == 'region':
        return Region(net)
    if kind == 'residual':
        main, downsample = [(name, build(child)) for name, child in net['main']], None if net['downsample'] is None else build(net['downsample'])
        return GatedResidual(main, downsample, net['skip']) if net.get('skip') else Residual(main, downsample)
    if kind == 'dense':
        return nn.Linear(net['inFeatures'], net['outFeatures'], bias=net['bias'])
    if kind == 'conv2d':
        return nn.Conv2d(net['inChannels'], net['outChannels'], tuple(net['kernel']), stride=tuple(net['stride']),
                         padding=tuple(net['padding']), dilation=tuple(net['dilation']), groups=net['groups'], bias=net['bias'])
    if kind == 'batchNorm2d':
        return nn.BatchNorm2d(net['channels'], eps=net['eps'], momentum=net['momentum'])
    if kind == 'groupNorm2d':
        return nn.GroupNorm(net['groups'], net['channels'], eps=net['eps'])
    if kind == 'maxPool2d':
        return nn.MaxPool2d(tuple(net['kernel']), stride=tuple(net['stride']), padding=tuple(net['padding']))
    if kind == 'avgPool2d':
        return nn.AvgPool2d(tuple(net['kernel']), stride=tuple(net['stride']), padding=tuple(net['padding']))
    if kind == 'globalAvgPool':
        return nn.AdaptiveAvgPool2d(1)
    if kind == 'leakyRelu':
        return nn.LeakyReLU(net['slope'])
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind]()
    raise ValueError(f"no torch twin for module kind '{kind}'")


def regions_of(model):
    return [m for m in model.modules() if isinstance(m, Region)]


# ----------------------------------------------------------------------------
# The worker


class Twin:
    """A loaded model: the network, its loss and optimizer, the weights to reset to."""

    def __init__(self, cmd):
        self.net = build(cmd['arch'])
        weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in onnx.load(cmd['model']).graph.initializer}
        state = self.net.state_dict()
        missing = [k for k in state if k not in weights and not k.endswith('num_batches_tracked')]
        unknown = [k for k in weights if k not in state]
        if missing or unknown:
            raise ValueError(f"{cmd['model']}: the torch twin's parameters differ from the model's: missing {missing}, not in the twin {unknown}")
        for k, v in state.items():
            if k in weights:
                if tuple(v.shape) != tuple(weights[k].shape):
                    raise ValueError(f'{k}: torch shape {tuple(v.shape)}, model.onnx {tuple(weights[k].shape)}')
                weights[k] = weights[k].to(v.dtype)
            else:
                weights[k] = v.clone()
        self.net.load_state_dict(weights, strict=True)
        self.initial = {k: v.clone() for k, v in self.net.state_dict().items()}
        self.regions = regions_of(self.net)
        self.loss = cmd['loss']
        o = cmd['optimizer']
        params = [p for p in self.net.parameters()]
        if o['kind'] == 'adam':
            self.optimizer = torch.optim.Adam(params, lr=o['lr'], betas=tuple(o['betas']), eps=o['eps'], weight_decay=o['weightDecay'])
        elif o['kind'] == 'adamw':
            self.optimizer = torch.optim.AdamW(params, lr=o['lr'], betas=tuple(o['betas']), eps=o['eps'], weight_decay=o['weightDecay'])
        else:
            self.optimizer = torch.optim.SGD(params, lr=o['lr'], momentum=o['momentum'], weight_decay=o['weightDecay'])
        self.clip = o.get('clipNorm')
        self.params = len(params)
        # task.train.fpCorrection: {terms, gamma, phantomSteps} (src/lower/fp-correction.ts), or None.
        self.correction = cmd.get('fpCorrection')
        for r in self.regions:
            r.correction_terms = self.correction['terms'] if self.correction else 0
        self.correction_losses = None
        self.added = {}

    def set_mode(self, mode):
        if mode not in ('dense', 'active'):
            raise ValueError(f"mode must be 'dense' or 'active', got {mode!r}")
        for r in self.regions:
            r.mode = mode

    def reset(self):
        """The loaded weights and a zero optimizer state: every timed step is the same first step."""
        with torch.no_grad():
            for k, v in self.net.state_dict().items():
                v.copy_(self.initial[k])
        for state in self.optimizer.state.values():
            for v in state.values():
                if torch.is_tensor(v):
                    v.zero_()

    def loss_of(self, y, target):
        return F.mse_loss(y, target) if self.loss == 'mse' else F.cross_entropy(y, target)

    def set_key(self, key):
        """The optimizer step (train.onnx's `step`, 1 on the first) the next forward's Jacobian penalties draw their probes
        from; None: no penalty, as grad.onnx, whose gradient is the task loss's."""
        for r in self.regions:
            r.key = key
            r.penalty = None

    def penalty(self):
        """The regions' Jacobian penalties of the last forward, summed (train.onnx's `jacobian_penalty`); None without any."""
        terms = [r.penalty for r in self.regions if r.penalty is not None]
        return sum(terms[1:], terms[0]) if terms else None

    def skip_cost(self):
        """sum of cost * mean(s) over the skip gates with a cost (train.onnx's `skip_cost`, src/lower/skip-gates.ts), a
        region's gates taken at its fixed point; None without any."""
        terms = [m.gate.mean() * m.cost for m in self.net.modules() if isinstance(m, GatedResidual) and m.cost > 0]
        return sum(terms[1:], terms[0]) if terms else None

    def objective(self, loss, x=None, loss_of=None):
        """What train.onnx minimises: the task loss, the Jacobian penalties, the skip gates' cost and, with a fixed-point
        correction, sum_k gamma^(n+1-k) loss_of(y_k) over its terms' passes of x (their losses kept in correction_losses).
        The penalty and the skip cost it adds are kept in `added` by train.onnx's output names: the correction's passes
        take the gates again, so skip_cost() after them would be the last pass's."""
        self.added = {}
        for name, term in (('jacobian_penalty', self.penalty()), ('skip_cost', self.skip_cost())):
            if term is not None:
                loss = loss + term
                self.added[name] = term
        self.correction_losses = None
        if self.correction:
            n, gamma = self.correction['terms'], self.correction['gamma']
            losses = []
            with frozen_running_stats(self.net):
                for k in range(1, n + 1):
                    for r in self.regions:
                        r.term = (k, self.correction['phantomSteps'])
                    try:
                        losses.append(loss_of(self.net(x)))
                    finally:
                        for r in self.regions:
                            r.term = None
            for k, l in enumerate(losses, 1):
                loss = loss + l * gamma ** (n + 1 - k)
            self.correction_losses = [l.item() for l in losses]
        return loss

    def counts(self, key, rows=None):
        """Per-sample counts summed over the regions (twnn's `iterations`, `iterations_backward`); for `rows` samples of a model
        without regions, one sweep each way, as twnn's graphs count them (src/lower/iterations.ts)."""
        parts = [r.stats[key] for r in self.regions if key in r.stats]
        if not parts:
            return None if rows is None else torch.ones(rows, dtype=torch.int64)
        return sum(parts[1:], parts[0])


def save(out, name, t):
    np.save(os.path.join(out, f'{name}.npy'), t.detach().cpu().numpy())


class Worker:
    def __init__(self):
        self.models = {}
        self.data = {}

    def threads(self, n):
        if n and torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def rows(self, cmd, key):
        return self.data[cmd[key]][cmd['start']:cmd['start'] + cmd['count']]

    def hello(self, cmd):
        blas = {'library': None, 'threads': None}
        try:
            import ctypes
            paths = sorted({line.split()[-1] for line in open('/proc/self/maps') if 'libopenblas' in line})
            if paths:
                lib = ctypes.CDLL(paths[0])
                lib.openblas_get_config.restype = ctypes.c_char_p
                blas = {'library': lib.openblas_get_config().decode(), 'threads': lib.openblas_get_num_threads()}
        except Exception as err:  # the bench reports what it could learn
            blas['error'] = str(err)
        return {'torch': torch.__version__, 'numpy': np.__version__, 'onnx': onnx.__version__, 'python': sys.version.split()[0],
                'blas': blas, 'mkldnn': torch.backends.mkldnn.is_available(), 'torchThreads': torch.get_num_threads(),
                'openblasEnv': os.environ.get('OPENBLAS_NUM_THREADS')}

    def load(self, cmd):
        twin = Twin(cmd)
        self.models[cmd['key']] = twin
        return {'parameters': sum(p.numel() for p in twin.net.parameters()), 'regions': [r.path for r in twin.regions]}

    def load_data(self, cmd):
        self.data[cmd['key']] = torch.from_numpy(np.load(cmd['path']))
        return {'shape': list(self.data[cmd['key']].shape)}

    def infer(self, cmd):
        twin = self.models[cmd['model']]
        self.threads(cmd.get('threads'))
        twin.set_mode(cmd['mode'])
        twin.net.eval()
        x = self.rows(cmd, 'x')
        seconds = 0.0
        ys, counts = [], {r.path: [] for r in twin.regions}
        with torch.inference_mode():
            for b0 in range(0, x.shape[0], cmd['batch']):
                xb = x[b0:b0 + cmd['batch']]
                start = time.perf_counter()
                y = twin.net(xb)
                seconds += time.perf_counter() - start
                if cmd.get('out'):
                    ys.append(y)
                    for r in twin.regions:
                        counts[r.path].append(r.stats['iterations'])
        if cmd.get('out'):
            save(cmd['out'], 'y', torch.cat(ys))
            for path, c in counts.items():
                save(cmd['out'], f'iterations.{path}', torch.cat(c))
        return {'seconds': seconds}

    def train_batch(self, cmd):
        twin = self.models[cmd['model']]
        self.threads(cmd.get('threads'))
        twin.set_mode(cmd['mode'])
        twin.net.train()
        return twin, self.rows(cmd, 'x'), self.rows(cmd, 'target')

    def grad(self, cmd):
        twin, x, target = self.train_batch(cmd)
        twin.reset()
        x = x.clone().requires_grad_()
        twin.optimizer.zero_grad(set_to_none=True)
        twin.set_key(None)
        loss = twin.loss_of(twin.net(x), target)
        loss.backward()
        out = cmd['out']
        for name, p in twin.net.named_parameters():
            save(out, f'grad.{name}', p.grad)
        save(out, 'grad.x', x.grad)
        save(out, 'iterations', twin.counts('iterations', x.shape[0]))
        save(out, 'iterations_backward', twin.counts('iterations_backward', x.shape[0]))
        twin.reset()
        return {'loss': loss.item()}

    def step(self, cmd):
        twin, x, target = self.train_batch(cmd)
        twin.reset()
        start = time.perf_counter()
        twin.optimizer.zero_grad(set_to_none=True)
        twin.set_key(cmd.get('step', 1))
        loss = twin.loss_of(twin.net(x), target)
        twin.objective(loss, x, lambda y: twin.loss_of(y, target)).backward()
        if twin.clip is not None:
            torch.nn.utils.clip_grad_norm_(twin.net.parameters(), twin.clip)
        if cmd.get('out'):
            grads = {name: p.grad.clone() for name, p in twin.net.named_parameters()}
        twin.optimizer.step()
        seconds = time.perf_counter() - start
        if cmd.get('out'):
            for name, p in twin.net.named_parameters():
                save(cmd['out'], f'{name}.new', p)
                save(cmd['out'], f'grad.{name}', grads[name])
            save(cmd['out'], 'iterations', twin.counts('iterations', x.shape[0]))
            save(cmd['out'], 'iterations_backward', twin.counts('iterations_backward', x.shape[0]))
        extra = {reply: twin.added[name].item() for name, reply in (('jacobian_penalty', 'jacobianPenalty'), ('skip_cost', 'skipCost')) if name in twin.added}
        if twin.correction_losses is not None:
            extra['fpCorrection'] = twin.correction_losses
        return {'seconds': seconds, 'loss': loss.item(), **extra}

    def train_steps(self, cmd):
        """Steps of a run that goes on from where the last call left it (from the
        loaded weights with `reset`): step k takes the rows sizes[k] long from the
        index file `rows` (int64, the steps' batches one after another) and the
        learning rate lrs[k]; `step` (default 1) is the first step's number, the key of
        Jacobian penalties' probes. Times the steps alone, as twnn's side is timed."""
        twin = self.models[cmd['model']]
        self.threads(cmd.get('threads'))
        twin.set_mode(cmd['mode'])
        if cmd.get('reset'):
            twin.reset()
        twin.net.train()
        x_all, target_all = self.data[cmd['x']], self.data[cmd['target']]
        rows = torch.from_numpy(np.load(cmd['rows']))
        if len(cmd['sizes']) != len(cmd['lrs']) or sum(cmd['sizes']) != rows.shape[0]:
            raise ValueError(f"train_steps: {len(cmd['sizes'])} sizes and {len(cmd['lrs'])} learning rates for {rows.shape[0]} rows")
        seconds, at = 0.0, 0
        losses, sweeps, adjoint = [], [], []
        for size, lr in zip(cmd['sizes'], cmd['lrs']):
            start = time.perf_counter()
            idx = rows[at:at + size]
            at += size
            for group in twin.optimizer.param_groups:
                group['lr'] = lr
            twin.optimizer.zero_grad(set_to_none=True)
            twin.set_key(cmd.get('step', 1) + len(losses))
            loss = twin.loss_of(twin.net(x_all[idx]), target_all[idx])
            twin.objective(loss, x_all[idx], lambda y: twin.loss_of(y, target_all[idx])).backward()
            if twin.clip is not None:
                torch.nn.utils.clip_grad_norm_(twin.net.parameters(), twin.clip)
            twin.optimizer.step()
            seconds += time.perf_counter() - start
            losses.append(loss.item())
            forward, backward = twin.counts('iterations'), twin.counts('iterations_backward')
            sweeps.append(forward.double().mean().item() if forward is not None else 0.0)
            adjoint.append(backward.double().mean().item() if backward is not None else 0.0)
        return {'seconds': seconds, 'losses': losses, 'sweeps': sweeps, 'adjointSteps': adjoint}

    def evaluate(self, cmd):
        """Accuracy and mean sweeps per sample on a data set, `batch` rows at a time."""
        twin = self.models[cmd['model']]
        self.threads(cmd.get('threads'))
        twin.set_mode(cmd['mode'])
        twin.net.eval()
        x, target = self.data[cmd['x']], self.data[cmd['target']]
        correct, sweeps = 0, 0.0
        with torch.inference_mode():
            for b0 in range(0, x.shape[0], cmd['batch']):
                y = twin.net(x[b0:b0 + cmd['batch']])
                correct += (y.argmax(1) == target[b0:b0 + cmd['batch']]).sum().item()
                counts = twin.counts('iterations')
                sweeps += counts.double().sum().item() if counts is not None else 0.0
        return {'accuracy': correct / x.shape[0], 'sweeps': sweeps / x.shape[0]}

    def run(self, cmd):
        handlers = {'hello': self.hello, 'load': self.load, 'data': self.load_data, 'infer': self.infer, 'grad': self.grad, 'step': self.step,
                    'train_steps': self.train_steps, 'evaluate': self.evaluate}
        if cmd.get('cmd') not in handlers:
            raise ValueError(f"unknown command {cmd.get('cmd')!r}")
        return handlers[cmd['cmd']](cmd)


def main():
    # The driver freezes idle workers (SIGSTOP). Should the shell that started a
    # bench exit meanwhile, the kernel sends the orphaned, stopped process group
    # SIGHUP and SIGCONT, which would end the worker mid-run; it ends instead
    # when the driver closes its stdin (or dies).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    worker = Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {'ok': True, **worker.run(json.loads(line))}
        except Exception as err:  # the driver reports it with the command that failed
            import traceback
            reply = {'ok': False, 'error': f'{type(err).__name__}: {err}', 'trace': traceback.format_exc()}
        sys.stdout.write(json_line(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
