/**
 * What every benchmark states with its figures (the machine, the command, the load) and where it
 * writes them: bench/results/latest-NAME.json always, bench/results/DATE-NAME.json with --record
 * (the committed copy), both in biome's format so `npm run lint` stays clean.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './stats.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  loadavgStart: number[];
  loadavgEnd?: number[];
}

export function machine(): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    loadavgStart: loadavg().map((x) => round(x, 2)),
  };
}

export const load1 = () => round(loadavg()[0]!, 2);

/** `npm run bench -- NAME ARGS`, as the user typed it. */
export function commandLine(name: string): string {
  const args = process.argv.slice(2);
  return `npm run bench -- ${name}${args.length ? ` ${args.join(' ')}` : ''}`;
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/** A header line for the printed table: when, where, under what load. */
export function header(title: string, m: Machine): string {
  const end = loadavg().map((x) => x.toFixed(2));
  return `${title}, ${new Date().toISOString()} — ${m.cpus} cores (${m.cpuModel}), Node ${m.node}, load ${m.loadavgStart.map((x) => x.toFixed(2)).join(' ')} → ${end.join(' ')}`;
}

export function writeResult(name: string, result: { machine: Machine }, record: boolean): string[] {
  result.machine.loadavgEnd = loadavg().map((x) => round(x, 2));
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const files = [join(dir, `latest-${name}.json`)];
  if (record) files.push(join(dir, `${new Date().toISOString().slice(0, 10)}-${name}.json`));
  for (const f of files) writeFileSync(f, json);
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  const r = spawnSync(biome, ['format', '--write', ...files], { cwd: ROOT, timeout: 30_000 });
  if (r.status !== 0) log(`could not format ${files.join(', ')} with biome (the JSON is still valid)`);
  for (const f of files) log(`results written to ${relative(process.cwd(), f) || f}`);
  return files;
}

/** A plain text table: the first row is the header; numbers right-aligned. */
export function textTable(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const w = cells[0]!.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ');
  const out = cells.map(line);
  out.splice(1, 0, '-'.repeat(out[0]!.length));
  return out.join('\n');
}
