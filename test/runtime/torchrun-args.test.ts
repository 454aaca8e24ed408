// How `--engine torch` launches torchrun on this node: the flags twnn's options
// become (one node standalone, a c10d rendezvous, a static one), and the
// worker flags checked before anything starts.
import { describe, expect, it } from 'vitest';
import { DDP_SCRIPT, torchrunArgs, trainTorch } from '../../src/runtime/torch/ddp.js';
import sine from '../../graphs/sine.js';

const flags = (args: string[]) => args.slice(1, -2);

describe('torchrunArgs', () => {
  it('one node: a standalone rendezvous, no restarts unless asked', () => {
    const args = torchrunArgs({ nprocPerNode: 2 }, '/run/run.json');
    expect(args[0]).toMatch(/python\/twnn_torchrun\.py$/);
    expect(args.slice(-2)).toEqual([DDP_SCRIPT, '/run/run.json']);
    expect(flags(args)).toEqual(['--nproc_per_node=2', '--nnodes=1', '--max_restarts=0', '--standalone']);
  });

  it("one node given a free local port meets there, not on --standalone's fixed 29400", () => {
    const args = flags(torchrunArgs({ nprocPerNode: 2 }, 'r.json', 41234));
    expect(args).toContain('--rdzv_endpoint=localhost:41234');
    expect(args).toContain('--rdzv_backend=c10d');
    expect(args).not.toContain('--standalone');
    expect(args.find((a) => a.startsWith('--rdzv_id='))).toMatch(/41234$/);
  });

  it('a c10d rendezvous with its timeout for the join and the store', () => {
    expect(flags(torchrunArgs({ nprocPerNode: 8, nnodes: 4, rdzvEndpoint: 'node0:29400', rdzvTimeout: 30, maxRestarts: 3 }, 'r.json'))).toEqual([
      '--nproc_per_node=8', '--nnodes=4', '--max_restarts=3', '--rdzv_backend=c10d', '--rdzv_endpoint=node0:29400', '--rdzv_id=twnn', '--rdzv_conf=join_timeout=30,read_timeout=30',
    ]);
  });

  it('a static rendezvous: this node\'s rank and node 0\'s address', () => {
    expect(flags(torchrunArgs({ nprocPerNode: 1, nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1', rdzvTimeout: 5 }, 'r.json'))).toEqual([
      '--nproc_per_node=1', '--nnodes=2', '--max_restarts=0', '--node_rank=1', '--master_addr=10.0.0.1', '--master_port=29500', '--rdzv_conf=timeout=5',
    ]);
  });
});

describe('trainTorch refuses before anything runs', () => {
  const options = { spec: sine, outDir: '/nonexistent/twnn-never-written' };
  it.each([
    [{ nprocPerNode: 0 }, /nprocPerNode must be a positive integer/],
    [{ nprocPerNode: 1, nnodes: 2 }, /2 nodes need a place to meet/],
    [{ nprocPerNode: 1, nnodes: 2, nodeRank: 2, rdzvEndpoint: 'h:1' }, /nodeRank must be 0 … 1 for 2 nodes, got 2/],
    [{ nprocPerNode: 1, nnodes: 2, masterAddr: 'h' }, /--master-addr needs --node-rank/],
    [{ nprocPerNode: 3 }, /batch 64 is not divisible by the world size 3/],
  ])('%j', async (engine, message) => {
    await expect(trainTorch(options, engine)).rejects.toThrow(message);
  });

  it('a device other than the CPU, and float64', async () => {
    await expect(trainTorch({ ...options, device: 'cuda' }, { nprocPerNode: 1 })).rejects.toThrow(/--device cuda is refused/);
    await expect(trainTorch({ ...options, dtype: 'float64' }, { nprocPerNode: 1 })).rejects.toThrow(/float64 is refused/);
  });
});
