// The report a task gets after `twnn train` (and from `twnn eval`): numbers
// against the task's targets and pictures, chosen by the kind of task.data.
import type { Device } from '../runtime/device.js';
import type { TwnnSession } from '../runtime/session.js';
import type { DataSpec } from '../twnn/task.js';

export interface TaskReportOptions {
  /** The task's data set, as in task.data. */
  data: DataSpec;
  /** model.onnx's path, or an open session (left open). */
  model: string | TwnnSession;
  /** Where the report's files go; without it only the numbers are computed. */
  outDir?: string;
  device?: Device | string;
}

/**
 * Run the report of the task `data` names and return the text to print, or
 * undefined when that kind of task has no report.
 *
 * @example
 * const text = await taskReport({ data: { kind: 'sine', window: 16 }, model: 'exported/sine/model.onnx', outDir: 'exported/sine' });
 * if (text) process.stdout.write(text);
 */
export async function taskReport(options: TaskReportOptions): Promise<string | undefined> {
  const { data } = options;
  if (data.kind === 'sine') {
    // Loaded on use: the charts pull in Vega (about a second), which every other CLI command would pay for.
    const { formatSineReport, sineReport } = await import('./sine-report.js');
    const report = await sineReport({ model: options.model, data, ...(options.outDir !== undefined ? { outDir: options.outDir } : {}), ...(options.device !== undefined ? { device: options.device } : {}) });
    return formatSineReport(report, options.outDir);
  }
  return undefined;
}
