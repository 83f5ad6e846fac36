/**
 * Child processes of the benchmark: each in its own process group (so a timeout or Ctrl-C takes
 * its children too: Ansible's forks, their ssh clients), always bounded by a timeout.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

const live = new Set<number>();

export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every child group still running (cleanup and signal path). */
export function killAllChildren(): void {
  for (const pid of live) killGroup(pid);
  live.clear();
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const KEEP = 64 * 1024;

export function run(
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; stdoutFile?: string; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid) live.add(pid);
    let stdout = '';
    let stderr = '';
    const file = opts.stdoutFile ? createWriteStream(opts.stdoutFile) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      file?.write(d);
      stdout = (stdout + d.toString('utf8')).slice(-KEEP);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-KEEP);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid) killGroup(pid);
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      if (pid) live.delete(pid);
      reject(new Error(`could not run ${argv[0]}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (pid) {
        live.delete(pid);
        // Nothing of the group may outlive the run (a fork that lost its parent, say).
        killGroup(pid);
      }
      const done = () => resolve({ code, signal, wallMs: performance.now() - t0, stdout, stderr, timedOut });
      if (file) file.end(done);
      else done();
    });
  });
}
