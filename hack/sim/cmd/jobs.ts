/**
 * The installer's long-running jobs: foreground progress lines per docs/platform-interface.md,
 * a job record the get-…-status.py / get-…-log.py companions read, and no death on SIGHUP — a
 * job whose SSH client vanished runs to its end, as the real installer's do.
 *
 * The companions take the arguments the runbooks give them, none (seed 002 lines 102–103): they
 * report the newest job of their kind. `-z ZONE` narrows it (an extension the operator does not
 * use; strict mode refuses it). Jobs print no job id line: the runbooks show none.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logRunEvent } from '../runs.js';
import type { Job } from '../types.js';
import { CmdError, fb, getopt, out, ROOT, sleep, stamp, str, updateFb } from './ctx.js';

export interface Step {
  desc: string;
  /** Unscaled duration. */
  ms: number;
  run?: () => void | Promise<void>;
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function runJob(kind: string, zone: string | undefined, steps: Step[]): Promise<number> {
  process.on('SIGHUP', () => {});
  const id = `j-${Math.random().toString(16).slice(2, 10)}`;
  const dir = join(ROOT, 'pitrix/log', kind.split('-')[0]!);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${id}.log`);
  updateFb((f) => {
    const busy = Object.values(f.jobs).find(
      (j) => j.kind === kind && j.zone === zone && j.status === 'running' && alive(j.pid),
    );
    if (busy)
      throw new CmdError(`another ${kind} job (${busy.id}) is running${zone ? ` for zone ${zone}` : ''}`, 3);
    f.jobs[id] = {
      id,
      kind,
      ...(zone ? { zone } : {}),
      status: 'running',
      progress: 0,
      step: 'queued',
      startedAt: Date.now(),
      pid: process.pid,
      logFile: logFile.slice(ROOT.length - 1),
    };
  });
  const say = (line: string) => {
    const l = `${stamp()} ${line}`;
    out(l);
    appendFileSync(logFile, `${l}\n`);
  };
  const set = (patch: Partial<Job>) =>
    updateFb((f) => {
      f.jobs[id] = { ...f.jobs[id]!, ...patch };
    });
  try {
    for (const [i, s] of steps.entries()) {
      say(`STEP ${i + 1}/${steps.length}: ${s.desc}`);
      set({ step: s.desc, progress: Math.round((i / steps.length) * 100) });
      await sleep(s.ms);
      await s.run?.();
    }
    say('done');
    set({ status: 'successful', progress: 100, step: 'done', finishedAt: Date.now() });
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    say(`failed: ${msg}`);
    set({ status: 'failed', step: `failed: ${msg}`, finishedAt: Date.now() });
    return e instanceof CmdError ? e.code : 1;
  }
}

/**
 * A job the firstbox runs in the foreground and keeps no status script for (update.sh, the package
 * builds): recorded with its start and end like the installer's jobs, so a test sees how often it
 * started and whether two copies overlapped. Its output is unchanged.
 */
export async function recordJob(
  kind: string,
  detail: string,
  zone: string | undefined,
  fn: () => Promise<number>,
): Promise<number> {
  process.on('SIGHUP', () => {});
  const id = `j-${Math.random().toString(16).slice(2, 10)}`;
  updateFb((f) => {
    f.jobs[id] = {
      id,
      kind,
      ...(zone ? { zone } : {}),
      status: 'running',
      progress: 0,
      step: detail,
      startedAt: Date.now(),
      pid: process.pid,
    };
  });
  const end = (status: Job['status']) =>
    updateFb((f) => {
      f.jobs[id] = { ...f.jobs[id]!, status, progress: 100, finishedAt: Date.now() };
    });
  try {
    const code = await fn();
    end(code === 0 ? 'successful' : 'failed');
    return code;
  } catch (e) {
    end('failed');
    throw e;
  }
}

function jobFor(kind: string, args: string[]): Job {
  const { opts } = getopt(args, ['-z']);
  const jobs = Object.values(fb().jobs).filter((j) => j.kind === kind);
  const zone = str(opts['-z']);
  const pick = jobs.filter((j) => !zone || j.zone === zone).sort((a, b) => b.startedAt - a.startedAt)[0];
  if (!pick) throw new CmdError(`no ${kind} job found`, 1);
  // A job whose process died without finishing failed; say so rather than "running" forever.
  if (pick.status === 'running' && !alive(pick.pid))
    return { ...pick, status: 'failed', step: 'failed: job process exited' };
  return pick;
}

export function jobStatus(kind: string, args: string[]): number {
  const j = jobFor(kind, args);
  out(JSON.stringify({ job_id: j.id, status: j.status, progress: j.progress, step: j.step }));
  return 0;
}

export function jobLog(kind: string, args: string[]): number {
  const j = jobFor(kind, args);
  if (!j.logFile) throw new CmdError(`job ${j.id} keeps no log`, 1);
  out(readFileSync(join(ROOT, j.logFile), 'utf8'));
  return 0;
}

/**
 * An installer tool that keeps no job record (launch_vms.sh, install_nodes.sh, update.sh): its
 * start and end go to the run log (hack/sim/runs.ts) and, like the installer's jobs, it does not
 * die with its SSH session (SIGHUP) — a second copy started meanwhile really runs side by side.
 */
export async function recordedRun(tool: string, args: string[], run: () => Promise<number>): Promise<number> {
  process.on('SIGHUP', () => {});
  const id = `r-${Math.random().toString(16).slice(2, 10)}`;
  logRunEvent(ROOT, { event: 'start', id, tool, args, pid: process.pid, time: Date.now() });
  let code = 70;
  try {
    code = await run();
    return code;
  } catch (e) {
    code = e instanceof CmdError ? e.code : 70;
    throw e;
  } finally {
    logRunEvent(ROOT, { event: 'end', id, time: Date.now(), exitCode: code });
  }
}
