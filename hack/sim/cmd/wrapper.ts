/**
 * The sshd ForceCommand of every simulated host (and the entry exec_nodes.sh uses when it runs a
 * command in a node's context): applies fault injection, runs the original command with bash,
 * and appends one JSON line per command to the host's command log.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULTS_FILE, readJson, withLock, writeJson } from '../store.js';
import type { CommandLogEntry, Fault } from '../types.js';
import { ROOT } from './ctx.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/pitrix/bin:/pitrix/cli';

function matches(f: Fault, command: string, via: string): boolean {
  if (f.kind === 'hostKey' || f.kind === 'wrongFacts') return false;
  if (f.via && f.via !== via) return false;
  if (!f.match) return true;
  const re = /^\/(.*)\/([a-z]*)$/.exec(f.match);
  return re ? new RegExp(re[1]!, re[2]).test(command) : command.includes(f.match);
}

/** Takes the first matching fault and spends one of its `times`. */
function takeFault(command: string, via: string): Fault | undefined {
  const path = join(ROOT, FAULTS_FILE);
  return withLock(path, () => {
    const faults = readJson<Fault[]>(path, []);
    const i = faults.findIndex((f) => matches(f, command, via));
    if (i < 0) return undefined;
    const f = faults[i]!;
    if (f.times !== undefined) {
      if (f.times <= 1) faults.splice(i, 1);
      else faults[i] = { ...f, times: f.times - 1 };
      writeJson(path, faults);
    }
    return f;
  });
}

function hostId(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, '.sim/state.json'), 'utf8')) as { id: string }).id;
  } catch {
    return 'unknown';
  }
}

function ppidOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** The per-connection sshd processes above us (not the listener): killing them drops the link. */
function killSession(): void {
  let listener = 0;
  try {
    listener = Number(readFileSync(join(ROOT, '.sim/pid'), 'utf8'));
  } catch {
    // no pid file: kill up to the first non-sshd ancestor
  }
  const victims: number[] = [];
  for (let pid = process.ppid; pid > 1 && pid !== listener; pid = ppidOf(pid)) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      break;
    }
    if (!comm.startsWith('sshd')) break;
    victims.push(pid);
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function wrapper(): Promise<number> {
  const command = process.env.SSH_ORIGINAL_COMMAND ?? '';
  const via = (process.env.PITRIX_SIM_VIA as CommandLogEntry['via'] | undefined) ?? 'ssh';
  const start = Date.now();
  const host = hostId();
  // A session that dies while its command runs on (a detached job's follower) is noted, so the log
  // shows a job outliving the connection that started it.
  const parent = process.ppid;
  let sessionEnded: number | undefined;
  const watch = setInterval(() => {
    if (ppidOf(process.pid) !== parent) {
      sessionEnded = Date.now() - start;
      clearInterval(watch);
    }
  }, 200);
  watch.unref();
  let logged = false;
  const log = (exitCode: number | null, signal: string | null, fault?: Fault) => {
    if (logged) return;
    logged = true;
    const entry: CommandLogEntry = {
      time: new Date(start).toISOString(),
      host,
      command,
      exitCode,
      ...(signal ? { signal } : {}),
      durationMs: Date.now() - start,
      via,
      ...(fault ? { fault: fault.kind } : {}),
      ...(sessionEnded !== undefined ? { sessionEndedAfterMs: sessionEnded } : {}),
    };
    appendFileSync(join(ROOT, '.sim/commands.log'), `${JSON.stringify(entry)}\n`);
  };
  const fault = command ? takeFault(command, via) : undefined;
  for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      log(null, sig, fault);
      process.exit(129);
    });
  }
  if (fault?.kind === 'hang') {
    // Hang until the connection goes away (sshd dying reparents us); stdin EOF proves nothing,
    // since `ssh host cmd </dev/null` closes it at once.
    await new Promise<void>((resolve) => {
      setInterval(() => {
        if (ppidOf(process.pid) !== parent) resolve();
      }, 200);
    });
    log(null, 'SIGHUP', fault);
    return 129;
  }
  if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 5000));
  if (fault && (fault.kind === 'fail' || fault.kind === 'output') && fault.phase !== 'after') {
    if (fault.stdout) process.stdout.write(fault.stdout);
    if (fault.message) process.stderr.write(`${fault.message}\n`);
    const code = fault.exitCode ?? (fault.kind === 'fail' ? 1 : 0);
    log(code, null, fault);
    return code;
  }
  if (fault?.kind === 'drop' && fault.phase === 'before') {
    // The link dies before the command reaches a shell: nothing runs.
    log(null, 'SIGHUP', fault);
    killSession();
    return 129;
  }
  const interactive = !command;
  const child = spawn('/bin/bash', interactive ? ['-l'] : ['-c', command], {
    stdio: fault?.kind === 'output' ? ['inherit', 'ignore', 'inherit'] : 'inherit',
    env: { ...process.env, PATH, HOME: '/root', SHELL: '/bin/bash' },
    cwd: '/root',
  });
  if (fault?.kind === 'drop') setTimeout(killSession, fault.afterMs ?? 300);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('exit', (c, s) => r([c, s])),
  );
  if (fault && (fault.kind === 'fail' || fault.kind === 'output') && fault.phase === 'after') {
    if (fault.stdout) process.stdout.write(fault.stdout);
    if (fault.message) process.stderr.write(`${fault.message}\n`);
    const c = fault.exitCode ?? (fault.kind === 'fail' ? 1 : (code ?? 1));
    log(c, null, fault);
    return c;
  }
  log(code, signal, fault);
  return code ?? 128 + 9;
}
