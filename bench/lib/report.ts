/** The printed table and the JSON result file. */
import type { Summary } from './stats.js';

export interface ThroughputResult {
  tool: string;
  hosts: number;
  where: string;
  rounds: { wallMs: number; nodesPerSecond: number; ok: number; cpuMs?: number | undefined }[];
  /** Median over rounds. */
  nodesPerSecond: number;
  perNode: Summary;
  /** CPU per node on the collecting side, median over rounds (ms). */
  cpuMsPerNode?: number | undefined;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

export function table(
  rows: {
    label: string;
    hosts: string;
    runs: string;
    wall: string;
    nps: string;
    p50: string;
    p90: string;
    cpu: string;
    ok: string;
  }[],
): string {
  const head = {
    label: 'measurement',
    hosts: 'hosts',
    runs: 'runs',
    wall: 'wall s',
    nps: 'nodes/s',
    p50: 'node p50 ms',
    p90: 'node p90 ms',
    cpu: 'cpu ms/node',
    ok: 'ok',
  };
  const all = [head, ...rows];
  const w = Object.fromEntries(
    Object.keys(head).map((k) => [k, Math.max(...all.map((r) => r[k as keyof typeof head].length))]),
  ) as Record<keyof typeof head, number>;
  const line = (r: typeof head) =>
    [
      pad(r.label, w.label),
      pad(r.hosts, w.hosts, true),
      pad(r.runs, w.runs, true),
      pad(r.wall, w.wall, true),
      pad(r.nps, w.nps, true),
      pad(r.p50, w.p50, true),
      pad(r.p90, w.p90, true),
      pad(r.cpu, w.cpu, true),
      pad(r.ok, w.ok, true),
    ].join('  ');
  const sep = '-'.repeat(line(head).length);
  return [line(head), sep, ...rows.map(line)].join('\n');
}

export function throughputRow(t: ThroughputResult) {
  const walls = t.rounds.map((r) => r.wallMs / 1000);
  return {
    label: `${t.tool}, ${t.where}`,
    hosts: String(t.hosts),
    runs: String(t.rounds.length),
    wall:
      walls.length === 1 ? fmt(walls[0], 2) : `${fmt(Math.min(...walls), 2)}-${fmt(Math.max(...walls), 2)}`,
    nps: fmt(t.nodesPerSecond),
    p50: fmt(t.perNode.medianMs, 0),
    p90: fmt(t.perNode.p90Ms, 0),
    cpu: fmt(t.cpuMsPerNode, 1),
    ok: t.rounds.map((r) => `${r.ok}`).join('/'),
  };
}

export function latencyRow(label: string, hosts: number, s: Summary) {
  return {
    label,
    hosts: String(hosts),
    runs: `${s.count} seq`,
    wall: '-',
    nps: '-',
    p50: fmt(s.medianMs, 0),
    p90: fmt(s.p90Ms, 0),
    cpu: '-',
    ok: String(s.count),
  };
}

export { fmt };
