// What `twnn bench torch` ran on: the CPU, the runtimes and BLAS, and how much
// of the CPU other processes took while it ran. Timings on a machine shared
// with other jobs are noisier, and busy cores favour fewer threads, so the
// report says so. Linux's /proc/stat counts every CPU's busy time and
// /proc/<pid>/stat the bench's own processes' (both in clock ticks); the
// difference is everyone else's.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';

export interface MachineInfo {
  cpu: string;
  cores: number;
  onnxruntime: string;
  node: string;
  torch: string;
  python: string;
  blas: string;
  mkldnn: boolean;
  /** 1-minute load average when the bench started and when it ended. */
  load: [number, number];
  /** Share of all cores' time during the run that other processes used (undefined where /proc cannot tell). */
  othersShare?: number;
}

/** CPU clock readings at the start of a run. */
export interface CpuMark {
  load: number;
  /** Busy and total ticks of all CPUs, and the bench's own ticks (this process and the given ones). */
  ticks?: { busy: number; total: number; own: number };
}

/**
 * Read the clocks now; `pids` are the bench's other processes (the torch workers).
 *
 * @example const start = markCpu(workers.map((w) => w.pid)); ... machineInfo(hello, start, pids);
 */
export function markCpu(pids: readonly number[]): CpuMark {
  const all = allTicks();
  const own = ownTicks(pids);
  return { load: loadavg()[0], ...(all && own !== undefined ? { ticks: { ...all, own } } : {}) };
}

/**
 * The machine, from the torch worker's `hello` answer and the clocks since `start`.
 *
 * @example const machine = machineInfo(hello, start, pids);
 */
export function machineInfo(hello: Record<string, unknown>, start: CpuMark, pids: readonly number[]): MachineInfo {
  const blas = hello.blas as { library?: string | null };
  const end = markCpu(pids);
  let othersShare: number | undefined;
  if (start.ticks && end.ticks && end.ticks.total > start.ticks.total) {
    const others = end.ticks.busy - start.ticks.busy - (end.ticks.own - start.ticks.own);
    othersShare = Math.min(1, Math.max(0, others / (end.ticks.total - start.ticks.total)));
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    onnxruntime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    node: process.version,
    torch: String(hello.torch),
    python: String(hello.python),
    blas: blas.library ?? 'BLAS unknown',
    mkldnn: hello.mkldnn === true,
    load: [start.load, end.load],
    ...(othersShare !== undefined ? { othersShare } : {}),
  };
}

/** All CPUs' busy and total ticks (the first line of /proc/stat), or undefined off Linux. */
function allTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + (steal ?? 0);
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

/** This process's and `pids`' user + system ticks (fields 14 and 15 of /proc/<pid>/stat), or undefined off Linux. */
function ownTicks(pids: readonly number[]): number | undefined {
  try {
    return ['self', ...pids.map(String)].reduce((sum, pid) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces: count from the closing parenthesis.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return sum + Number(rest[11]) + Number(rest[12]);
    }, 0);
  } catch {
    return undefined;
  }
}
