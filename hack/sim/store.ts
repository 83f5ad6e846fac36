/**
 * The state library: JSON files under a host's root (`/` inside the host, `WORKDIR/hosts/ID/fs`
 * from the root namespace, `/.sim/nodes/ID` from the firstbox). Synchronous on purpose: commands
 * are short-lived processes and read-modify-write must not interleave with another command's.
 */
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { BossDb, HostState, SimConfig, TagDb, TimelineEvent } from './types.js';

export const STATE_FILE = '.sim/state.json';
export const FAULTS_FILE = '.sim/faults.json';
/** A host's current known_hosts line (its sshd's key), rewritten whenever its sshd (re)starts. */
export const HOST_KEY_FILE = '.sim/hostkey';
export const COMMAND_LOG = '.sim/commands.log';
export const TIMELINE = 'timeline.jsonl';
/** Start and end lines of the firstbox's installer tool runs (ToolRun, one JSON line per event). */
export const RUN_LOG = '.sim/runs.jsonl';

export function readJson<T>(path: string, fallback?: T): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    if (fallback !== undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

/** Atomic replace, so a reader never sees half a file. */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

const sab = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sab, 0, 0, ms);
}

/** An O_EXCL lock file; a lock older than 10 s belongs to a killed command and is broken. */
export function withLock<T>(path: string, fn: () => T): T {
  const lock = `${path}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmSync(lock, { force: true });
      } catch {
        // released meanwhile
      }
      if (i > 3000) throw new Error(`timed out waiting for ${lock}`);
      sleepSync(5);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

export function readHost(root: string): HostState {
  return readJson<HostState>(join(root, STATE_FILE));
}

export function hostAvailable(s: HostState): boolean {
  const programs = Object.values(s.supervisor.programs);
  return s.power === 'on' && programs.length > 0 && programs.every((p) => p.state === 'RUNNING');
}

/**
 * Read-modify-write of a host's state. Availability changes (powered on with every program
 * RUNNING) go to the platform timeline so tests can check "at most one webservice down".
 */
export function updateHost<T>(root: string, services: string, fn: (s: HostState) => T): T {
  const path = join(root, STATE_FILE);
  return withLock(path, () => {
    const s = readJson<HostState>(path);
    const before = hostAvailable(s);
    const out = fn(s);
    writeJson(path, s);
    const after = hostAvailable(s);
    if (before !== after) timeline(services, { time: Date.now(), host: s.id, event: after ? 'up' : 'down' });
    return out;
  });
}

export function timeline(services: string, ev: TimelineEvent): void {
  appendFileSync(join(services, TIMELINE), `${JSON.stringify(ev)}\n`);
}

export function readConfig(services: string): SimConfig {
  return readJson<SimConfig>(join(services, 'config.json'));
}

export function updateTagDb<T>(services: string, fn: (db: TagDb) => T): T {
  const path = join(services, 'tagdb.json');
  return withLock(path, () => {
    const db = readJson<TagDb>(path, { zones: {}, migrated: {} });
    const out = fn(db);
    writeJson(path, db);
    return out;
  });
}

export const DEFAULT_BOSS: BossDb = {
  v2Deployed: false,
  cronusDeployed: false,
  websupervisorDeployed: false,
  defaultPassword: true,
  migrations: 0,
  initData: 0,
  cacheRebuilds: 0,
  healthy: true,
};

export function updateBoss<T>(services: string, fn: (db: BossDb) => T): T {
  const path = join(services, 'boss.json');
  return withLock(path, () => {
    const db = readJson<BossDb>(path, { ...DEFAULT_BOSS });
    const out = fn(db);
    writeJson(path, db);
    return out;
  });
}
