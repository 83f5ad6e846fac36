/**
 * The simulated firstbox's records of the guarded platform jobs (installer scripts started under
 * the operator's job wrapper), with their start and end times: how a test shows a job started
 * once, and never two at once.
 */
import type { Platform } from '../../hack/sim/platform.js';

export interface JobRecord {
  kind: string;
  /** The zone the job works on, when the simulator knows it: jobs of different zones may overlap. */
  zone?: string;
  startedAt: number;
  finishedAt?: number;
}

export async function jobRecords(sim: Platform): Promise<JobRecord[]> {
  const st = await sim.state(sim.firstbox.id);
  return Object.values(st.firstbox?.jobs ?? {}) as JobRecord[];
}

/**
 * Pairs of jobs that ran at the same time in one zone (each zone's installer jobs are guarded); a
 * job the simulator records without a zone is taken to conflict with every other.
 */
export function overlapping(js: JobRecord[]): string[] {
  const sorted = [...js].sort((a, b) => a.startedAt - b.startedAt);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++)
    for (let k = i + 1; k < sorted.length; k++) {
      const [a, b] = [sorted[i]!, sorted[k]!];
      const sameZone = a.zone === undefined || b.zone === undefined || a.zone === b.zone;
      if (sameZone && b.startedAt < (a.finishedAt ?? Number.POSITIVE_INFINITY))
        out.push(`${a.kind} and ${b.kind}${a.zone && a.zone === b.zone ? ` (zone ${a.zone})` : ''}`);
    }
  return out;
}
