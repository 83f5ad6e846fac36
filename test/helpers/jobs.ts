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

/** Pairs of jobs of one zone that ran at the same time (each zone's installer jobs are guarded). */
export function overlapping(js: JobRecord[]): string[] {
  const out: string[] = [];
  for (const zone of new Set(js.map((j) => j.zone))) {
    const sorted = js.filter((j) => j.zone === zone).sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (sorted[i]!.startedAt < (prev.finishedAt ?? Number.POSITIVE_INFINITY))
        out.push(`${prev.kind} and ${sorted[i]!.kind}${zone ? ` (zone ${zone})` : ''}`);
    }
  }
  return out;
}
