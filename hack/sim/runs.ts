/**
 * The run log of the firstbox's installer tools that keep no job record of their own
 * (launch_vms.sh, install_nodes.sh, update.sh): a start line when a run begins and an end line
 * when it ends, so a test can tell how often a tool started and whether two copies ran at once.
 * A run killed outright has no end line; `readToolRuns` reports it without `finishedAt`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RUN_LOG } from './store.js';
import type { ToolRun } from './types.js';

export type { ToolRun };

type RunEvent =
  | { event: 'start'; id: string; tool: string; args: string[]; pid: number; time: number }
  | { event: 'end'; id: string; time: number; exitCode: number };

/** Appends one event (a line is written whole by one `write`, so concurrent runs never interleave). */
export function logRunEvent(root: string, ev: RunEvent): void {
  const p = join(root, RUN_LOG);
  mkdirSync(dirname(p), { recursive: true });
  appendFileSync(p, `${JSON.stringify(ev)}\n`);
}

/** Every run on a host, in the order they started. */
export function readToolRuns(root: string): ToolRun[] {
  const p = join(root, RUN_LOG);
  if (!existsSync(p)) return [];
  const runs = new Map<string, ToolRun>();
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line) continue;
    const ev = JSON.parse(line) as RunEvent;
    if (ev.event === 'start')
      runs.set(ev.id, { id: ev.id, tool: ev.tool, args: ev.args, pid: ev.pid, startedAt: ev.time });
    else {
      const r = runs.get(ev.id);
      if (r) Object.assign(r, { finishedAt: ev.time, exitCode: ev.exitCode });
    }
  }
  return [...runs.values()].sort((a, b) => a.startedAt - b.startedAt);
}

/** Pairs of runs (of the given tools) that were under way at the same instant. */
export function overlappingRuns(runs: readonly ToolRun[]): Array<[ToolRun, ToolRun]> {
  const out: Array<[ToolRun, ToolRun]> = [];
  const sorted = [...runs].sort((a, b) => a.startedAt - b.startedAt);
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      if (b.startedAt < (a.finishedAt ?? Number.POSITIVE_INFINITY)) out.push([a, b]);
    }
  return out;
}
