/**
 * What every simulated command shares: where this host's state is, how the firstbox reaches
 * node state (its private /.sim/nodes mount), scaled time, output that survives a dropped SSH
 * connection, the control socket to the platform, and option parsing.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { readConfig, readHost, readJson, updateHost } from '../store.js';
import type { Fault, FirstboxData, HostState, NodeRecord } from '../types.js';

export const ROOT = process.env.PITRIX_SIM_ROOT ?? '/';
export const SERVICES = join(ROOT, '.sim/services');

export class CmdError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

// A client that went away must not kill a job that the installer would finish server-side.
let outputGone = false;
process.stdout.on('error', () => {
  outputGone = true;
});
process.stderr.on('error', () => {});

export function out(s: string): void {
  if (!outputGone) process.stdout.write(s.endsWith('\n') || s === '' ? s : `${s}\n`);
}
export function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
}

export function nodeRoot(id: string): string {
  return join(ROOT, '.sim/nodes', id);
}
export function self(): HostState {
  return readHost(ROOT);
}
export function updateSelf<T>(fn: (s: HostState) => T): T {
  return updateHost(ROOT, SERVICES, fn);
}
export function fb(): FirstboxData {
  const s = self();
  if (!s.firstbox) throw new CmdError('this command only runs on the firstbox', 127);
  return s.firstbox;
}
export function updateFb<T>(fn: (f: FirstboxData, s: HostState) => T): T {
  return updateSelf((s) => {
    if (!s.firstbox) throw new CmdError('this command only runs on the firstbox', 127);
    return fn(s.firstbox, s);
  });
}
export function readNode(id: string): HostState {
  return readHost(nodeRoot(id));
}
export function updateNode<T>(id: string, fn: (s: HostState) => T): T {
  return updateHost(nodeRoot(id), SERVICES, fn);
}
export function faultsOf(root: string): Fault[] {
  return readJson<Fault[]>(join(root, '.sim/faults.json'), []);
}

export function timeScale(): number {
  const env = Number(process.env.PITRIX_SIM_TIME_SCALE);
  if (env > 0) return env;
  try {
    return readConfig(SERVICES).timeScale;
  } catch {
    return 1;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms * timeScale())));
}

export function stamp(): string {
  return `[${new Date().toTimeString().slice(0, 8)}]`;
}

/** Minimal getopt: `spec` lists options taking a value; everything else is a flag or positional. */
export function getopt(
  args: string[],
  withValue: string[],
): { opts: Record<string, string | true>; pos: string[] } {
  const opts: Record<string, string | true> = {};
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('-') && a.length > 1) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(0, eq) : a;
      if (eq > 0) opts[key] = a.slice(eq + 1);
      else if (withValue.includes(key)) {
        const v = args[++i];
        if (v === undefined) throw new CmdError(`option ${key} requires a value`, 2);
        opts[key] = v;
      } else opts[key] = true;
    } else pos.push(a);
  }
  return { opts, pos };
}

export function str(v: string | true | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * update.sh / exec_nodes.sh targets: `all`, a role, `ZONE_ID-role`, node ids, or a comma list of
 * those, resolved against the installer's node list in its order.
 */
export function resolveTarget(f: FirstboxData, target: string): NodeRecord[] {
  const picked = new Set<string>();
  for (const t of target.split(',').filter(Boolean)) {
    const before = picked.size;
    for (const n of f.nodes) {
      const zoneRole = n.roles.some((r) => `${n.zone_id}-${r}` === t);
      if (
        t === 'all' ||
        n.roles.includes(t) ||
        zoneRole ||
        n.node_id === t ||
        n.mgmt_ip === t ||
        n.hostname === t
      )
        picked.add(n.node_id);
    }
    if (picked.size === before) throw new CmdError(`no node matches target '${t}'`, 2);
  }
  return f.nodes.filter((n) => picked.has(n.node_id));
}

/** Asks the platform (root namespace) to act on a host's sshd: power, host key. */
export function ctl(req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(SERVICES, 'ctl.sock'));
    let buf = '';
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        sock.end();
        const res = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        if (res.error) reject(new CmdError(String(res.error)));
        else resolve(res);
      }
    });
    sock.on('error', (e) => reject(new CmdError(`platform control socket: ${e.message}`)));
  });
}

/** An address list file (one IP per line, `#` comments), relative to the caller's cwd. */
export function readList(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CmdError(`cannot read node list file ${path}`, 2);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}
