#!/usr/bin/python3
"""`twnn train --engine torch`: the PyTorch twin (twnn_torch.py) trained under
torchrun with DistributedDataParallel, steps, metrics and checkpoints like
twnn's own trainer (src/runtime/trainer.ts).

    python3 -m torch.distributed.run --nproc-per-node N twnn_ddp.py RUN.json
    python3 twnn_ddp.py --check - < {"arch": ...}   (builds the twin: its refusals, before the run starts)

RUN.json is written by src/runtime/torch/ddp.ts: the twin's description
(`arch`), the export's model.onnx (the initial weights), the loss and the
resolved optimizer, the data as .npy, each epoch's example order (twnn's own
seeded `shuffledOrder`), each step's learning rate (twnn's `learningRate`),
and the names checkpoint.twnn uses.

One global batch per step, split over the world. With B the global batch, W
ranks, rank r's rows R_r (|R_r| = B/W) and l_i a sample's loss (twnn's mean
over the sample's elements for mse), twnn's step minimises L = (1/B) sum_i l_i.
Rank r back-propagates L_r = (W/B) sum_{i in R_r} l_i; DDP averages the
ranks' gradients, (1/W) sum_r dL_r = (1/B) sum_i dl_i = dL, so W ranks at
B/W rows take the step one process takes at B rows. Everything else in a
region is per sample (settling, the adjoint's stop), so it is the same too;
batch norm is not (statistics over the shard), and ddp.ts refuses it for W > 1.

Every rank ends each step with the same weights, so each node's local rank 0
writes checkpoint.twnn (twnn's format, version 2, so `twnn train --resume`
of either engine reads it) and metrics.jsonl in that node's output folder.
A restarted worker group (torchrun --max-restarts) and `--resume` start from
checkpoint.twnn: the position, the weights, the optimizer's state and the step
count are all in it, and the order of an epoch is a function of (seed, epoch),
so the steps after it are the ones an uninterrupted run takes.
"""
import hashlib
import json
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twnn_torch  # noqa: E402

MAGIC = b'TWNNCKPT'
ZERO_SHA = '0' * 64
NP_DTYPES = {'float32': np.float32, 'float64': np.float64, 'int64': np.int64, 'int32': np.int32}
# torch.optim's state for twnn's slots (src/autodiff/optimizers.ts: adam/adamw keep m, v; sgd with momentum keeps m).
SLOTS = {'adam': {'m': 'exp_avg', 'v': 'exp_avg_sq'}, 'adamw': {'m': 'exp_avg', 'v': 'exp_avg_sq'}, 'sgd': {'m': 'momentum_buffer'}}
PROGRESS_SECONDS = 15


class RunError(Exception):
    """A refusal or failure the launcher shows as it is (one line, prefixed `twnn-torch: error:`)."""


# ----------------------------------------------------------------------------
# checkpoint.twnn (src/runtime/checkpoint.ts)


def read_checkpoint(path):
    blob = open(path, 'rb').read()
    if blob[:8] != MAGIC:
        raise RunError(f'{path}: not a twnn checkpoint')
    n = int.from_bytes(blob[8:12], 'little')
    text = blob[12:12 + n].decode()
    data = blob[12 + n:]
    header = json.loads(text)
    written = f'"sha256":"{header["sha256"]}"}}'
    zeroed = text[:-len(written)] + f'"sha256":"{ZERO_SHA}"}}' if header.get('version') == 2 else None
    digest = hashlib.sha256((zeroed.encode() if zeroed else b'') + data).hexdigest()
    if not text.endswith(written) or digest != header['sha256']:
        raise RunError(f'{path}: the header or the data does not match its sha256 (edited or corrupted)')
    groups = {'params': {}, 'state': {}, 'buffers': {}}
    for e in header['tensors']:
        a = np.frombuffer(data, dtype=NP_DTYPES[e['dtype']], count=int(np.prod(e['shape'], dtype=np.int64)), offset=e['offset'])
        groups[e['group']][e['name']] = torch.from_numpy(a.reshape(e['shape']).copy())
    return header, groups


def write_checkpoint(path, config, position, groups):
    """Version 2: the sha256 of the header (its sha256 read as zeros) and the data; temp file + rename."""
    tensors, chunks, offset = [], [], 0
    for group in ('params', 'state', 'buffers'):
        for name, t in groups[group]:
            b = np.ascontiguousarray(t.detach().cpu().numpy()).tobytes()
            tensors.append({'group': group, 'name': name, 'dtype': str(t.detach().cpu().numpy().dtype), 'shape': list(t.shape), 'offset': offset, 'bytes': len(b)})
            chunks.append(b)
            offset += len(b)
    data = b''.join(chunks)
    header = {'format': 'twnn.checkpoint', 'version': 2, 'config': config, 'position': position,
              'shuffle': {'seed': config['seed'], 'epoch': position['epoch']}, 'tensors': tensors, 'dataBytes': len(data), 'sha256': ZERO_SHA}
    text = json.dumps(header, separators=(',', ':'), allow_nan=False)
    digest = hashlib.sha256(text.encode() + data).hexdigest()
    head = (text[:-len(ZERO_SHA) - 2] + digest + '"}').encode()
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        f.write(MAGIC + len(head).to_bytes(4, 'little') + head + data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------
# The run


class Trainer:
    def __init__(self, run):
        self.run = run
        self.twin = twnn_torch.Twin({'arch': run['arch'], 'model': run['model'], 'loss': run['loss'], 'optimizer': run['optimizer'],
                                     'fpCorrection': run.get('fpCorrection')})
        self.twin.set_mode('dense')
        self.net = self.twin.net
        self.named = dict(self.net.named_parameters())
        self.buffers = dict(self.net.named_buffers())
        layout = run['layout']
        missing = [n for n in layout['trainable'] if n not in self.named] + [n for n in layout['buffers'] if n not in self.buffers]
        if missing:
            raise RunError(f"model '{run['config']['model']}': the torch twin has no {', '.join(missing)}")
        self.world = dist.get_world_size()
        self.rank = dist.get_rank()
        if self.world != run['worldSize']:
            # An elastic --nnodes range, or nodes started with different --nproc-per-node: the shards would not be the planned ones.
            raise RunError(f"torchrun started {self.world} ranks, but the run was planned (and its batch checked) for {run['worldSize']}; give every node the same --nnodes and --nproc-per-node")
        self.leader = int(os.environ.get('LOCAL_RANK', '0')) == 0
        self.model = torch.nn.parallel.DistributedDataParallel(self.net) if self.world > 1 else self.net
        load = lambda key: torch.from_numpy(np.load(run['data'][key]))
        self.x, self.target = load('trainX'), load('trainTarget')
        self.test_x, self.test_target = load('testX'), load('testTarget')
        self.orders = np.load(run['orders'])
        self.position = dict(run['position'])
        restarted = int(os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')) > 0
        if run['resume'] or (restarted and os.path.exists(run['checkpoint'])):
            self.restore(restarted)

    # -- checkpoints

    def restore(self, restarted):
        header, groups = read_checkpoint(self.run['checkpoint'])
        with torch.no_grad():
            for name, t in list(groups['params'].items()) + list(groups['buffers'].items()):
                target = self.named.get(name, self.buffers.get(name))
                target.copy_(t.to(target.dtype))
        self.position = dict(header['position'])
        step = self.position['step']
        slots = SLOTS[self.run['optimizer']['kind']]
        opt = self.twin.optimizer
        for name in self.run['layout']['trainable']:
            p = self.named[name]
            state = {torch_name: groups['state'][f'{name}.{slot}'].to(p.dtype).clone() for slot, torch_name in slots.items() if f'{name}.{slot}' in groups['state']}
            if state and 'exp_avg' in state:
                state['step'] = torch.tensor(float(step))
            if state:
                opt.state[p] = state
        if restarted and self.leader:
            self.trim_metrics(step)
            print(f"restart {os.environ['TORCHELASTIC_RESTART_COUNT']} of the worker group: continuing from checkpoint.twnn after step {step}", flush=True)

    def trim_metrics(self, step):
        """A restarted group runs the steps after the checkpoint again: drop their lines (MetricsLog.start)."""
        path = self.run['metrics']
        if not os.path.exists(path):
            return
        kept = []
        for line in open(path):
            try:
                if json.loads(line)['step'] <= step:
                    kept.append(line if line.endswith('\n') else line + '\n')
            except (ValueError, KeyError):
                pass  # a torn last line
        tmp = f'{path}.{os.getpid()}.tmp'
        open(tmp, 'w').write(''.join(kept))
        os.replace(tmp, path)

    def checkpoint(self):
        if not self.leader:
            return
        layout = self.run['layout']
        slots = SLOTS[self.run['optimizer']['kind']]
        opt_state = self.twin.optimizer.state
        state = []
        for name in layout['trainable']:
            p = self.named[name]
            for slot in layout['slots'][name]:
                t = opt_state.get(p, {}).get(slots[slot])
                state.append((f'{name}.{slot}', torch.zeros_like(p) if t is None else t))
        groups = {'params': [(n, self.named[n]) for n in layout['trainable']], 'state': state, 'buffers': [(n, self.buffers[n]) for n in layout['buffers']]}
        write_checkpoint(self.run['checkpoint'], self.run['config'], self.position, groups)

    def log(self, record):
        if self.leader:
            with open(self.run['metrics'], 'a') as f:
                f.write(twnn_torch.json_line(record, separators=(',', ':')) + '\n')

    # -- steps

    def sample_losses_sum(self, y, target):
        """Sum over the shard of each sample's loss, as twnn's loss means it (mse: over the sample's elements)."""
        if self.run['loss'] == 'mse':
            return F.mse_loss(y, target, reduction='sum') / y[0].numel()
        return F.cross_entropy(y, target, reduction='sum')

    def fault(self):
        """TWNN_TORCH_FAULT=rank:step kills that rank before that step in the first attempt (the fault tests)."""
        spec = os.environ.get('TWNN_TORCH_FAULT')
        if not spec or int(os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')) > 0:
            return
        rank, step = (int(v) for v in spec.split(':'))
        if rank == self.rank and step == self.position['step'] + 1:
            os.kill(os.getpid(), signal.SIGKILL)

    def step(self, order):
        run, pos = self.run, self.position
        batch = run['batch']
        rows = order[pos['position'] * batch:(pos['position'] + 1) * batch]
        shard = torch.from_numpy(np.array_split(rows, self.world)[self.rank].astype(np.int64))
        started = time.perf_counter()
        lr = run['lrs'][pos['step']]
        for group in self.twin.optimizer.param_groups:
            group['lr'] = lr
        self.twin.optimizer.zero_grad(set_to_none=True)
        self.fault()
        self.twin.set_key(pos['step'] + 1)
        x, target = self.x[shard], self.target[shard]
        y = self.model(x)
        loss_sum = self.sample_losses_sum(y, target)
        # Every term is a mean over the shard's rows (a Jacobian penalty, a skip cost, the fixed-point correction's
        # losses); DDP's average over equal shards makes it the batch's.
        shard_loss = lambda out: self.sample_losses_sum(out, target) * (self.world / len(rows))
        self.twin.objective(loss_sum * (self.world / len(rows)), x, shard_loss).backward()
        if self.twin.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.twin.clip)
        self.twin.optimizer.step()
        terms = self.terms()
        totals = torch.tensor([loss_sum.item(), self.count('iterations', len(shard)), self.count('iterations_backward', len(shard)), self.unsettled(),
                               *[v for values in terms.values() for v in values]], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(totals)
        seconds = time.perf_counter() - started
        loss = totals[0].item() / len(rows)
        # Each term is a mean over the rank's shard; the shards are equal, so the batch's is the mean over the ranks.
        at = 4
        for name, values in terms.items():
            terms[name] = [v / self.world for v in totals[at:at + len(values)].tolist()]
            at += len(values)
        if not np.isfinite(loss):
            raise RunError(f"training diverged: the loss is {loss} at step {pos['step'] + 1} (epoch {pos['epoch'] + 1}); try a smaller --lr")
        pos['step'] += 1
        pos['position'] += 1
        pos['epochLossSum'] += loss * len(rows)
        pos['epochSamples'] += len(rows)
        pos['epochUnsettled'] = pos.get('epochUnsettled', 0) + int(totals[3].item())
        pos['seconds'] += seconds
        self.log({'kind': 'step', 'epoch': pos['epoch'] + 1, 'step': pos['step'], 'lr': lr, 'loss': loss, 'iterations': totals[1].item() / len(rows),
                  'iterations_backward': totals[2].item() / len(rows), 'unsettled': int(totals[3].item()),
                  **{name: values if name == 'fp_correction' else values[0] for name, values in terms.items()},
                  'samples_per_s': round(len(rows) / max(seconds, 1e-9), 3)})
        return loss

    def terms(self):
        """This step's other training terms, as train.onnx outputs them and twnn's trainer logs them (each only where the
        model has it): `jacobian_penalty`, `skip_cost`, `fp_correction` (each term's task loss), this rank's values."""
        twin = self.twin
        terms = {name: [term.item()] for name, term in twin.added.items()}
        if twin.correction_losses is not None:
            terms['fp_correction'] = list(twin.correction_losses)
        return terms

    def count(self, key, rows):
        return self.twin.counts(key, rows).double().sum().item()

    def unsettled(self):
        bad = None
        for r in self.twin.regions:
            if 'residual' in r.stats:
                b = r.stats['residual'] > r.cfg['tol']
                bad = b if bad is None else bad | b
        return 0.0 if bad is None else float(bad.sum().item())

    def evaluate(self):
        """The test split through the twin (eval mode, no grad), as src/runtime/metrics.ts's evaluate reports it."""
        self.net.eval()
        n, loss_sum, correct, sweeps, unsettled = self.test_x.shape[0], 0.0, 0, 0.0, 0.0
        with torch.no_grad():
            for b0 in range(0, n, self.run['evalBatch']):
                xb, tb = self.test_x[b0:b0 + self.run['evalBatch']], self.test_target[b0:b0 + self.run['evalBatch']]
                y = self.net(xb)
                loss_sum += self.sample_losses_sum(y, tb).item()
                if self.run['loss'] == 'cross_entropy':
                    correct += (y.argmax(1) == tb).sum().item()
                sweeps += self.count('iterations', xb.shape[0])
                unsettled += self.unsettled()
        self.net.train()
        result = {'test_loss': loss_sum / n}
        if self.run['loss'] == 'cross_entropy':
            result['test_accuracy'] = correct / n
        return {**result, 'test_iterations': sweeps / n, 'test_unsettled': int(unsettled)}

    def end_epoch(self):
        pos = self.position
        train_loss = pos['epochLossSum'] / pos['epochSamples']
        if self.leader:
            test = self.evaluate()
            self.log({'kind': 'epoch', 'epoch': pos['epoch'] + 1, 'step': pos['step'], 'train_loss': train_loss, **test,
                      'unsettled': pos.get('epochUnsettled', 0), 'seconds': round(pos['seconds'], 3), 'engine': 'torch', 'world_size': self.world})
            accuracy = f", accuracy {test['test_accuracy'] * 100:.2f}%" if 'test_accuracy' in test else ''
            print(f"epoch {pos['epoch'] + 1}/{self.run['epochs']}: train loss {train_loss:.6g}, test loss {test['test_loss']:.6g}{accuracy} "
                  f"(torch, {self.world} rank{'s' if self.world > 1 else ''}, {pos['seconds']:.1f}s training so far)", flush=True)
        pos.update({'epoch': pos['epoch'] + 1, 'position': 0, 'epochLossSum': 0, 'epochSamples': 0, 'epochUnsettled': 0, 'lastTrainLoss': train_loss})
        self.checkpoint()

    def train(self):
        run, pos = self.run, self.position
        self.net.train()
        every = run.get('checkpointEvery')
        last_print = time.perf_counter()
        while pos['step'] < run['totalSteps'] and pos['epoch'] < run['epochs']:
            loss = self.step(self.orders[pos['epoch']])
            if pos['position'] == run['batchesPerEpoch']:
                self.end_epoch()
            elif every and pos['step'] % every == 0:
                self.checkpoint()
            if self.leader and time.perf_counter() - last_print >= PROGRESS_SECONDS:
                last_print = time.perf_counter()
                print(f"epoch {pos['epoch'] + 1}/{run['epochs']} step {pos['step']}/{run['totalSteps']} loss {loss:.6g}", flush=True)
        self.checkpoint()


def main(argv):
    check = argv[:1] == ['--check']
    path = argv[-1]
    try:
        run = json.load(sys.stdin if path == '-' else open(path))
        if check:
            net = twnn_torch.build(run['arch'])
            print(json.dumps({'torch': torch.__version__, 'parameters': sum(p.numel() for p in net.parameters())}))
            return 0
        dist.init_process_group('gloo')
        try:
            Trainer(run).train()
        finally:
            dist.destroy_process_group()
        return 0
    except (RunError, ValueError) as err:
        # ValueError: the twin's refusals ("region 'region1': backward 'unrolled' has no torch reference").
        sys.stderr.write(f'twnn-torch: error: {err}\n')
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
