/**
 * `kubectl pitrix status KIND/NAME --watch`: the progress of a resource's plan, live. On a terminal
 * the frame (progress bar, current step and host, elapsed time, an estimate from the journal's
 * step durations, the last failure with the operator's message and remedy) is redrawn in place;
 * otherwise one line is printed per change, for logs and CI. It ends as kstatus would judge the
 * resource: Current (Ready for this generation) exits 0, Failed (Stalled) exits 1, a deleted
 * resource exits 1.
 *
 * The frame and the verdict are pure functions of the object and the clock; the loop polls
 * the API server (a read per interval, like `kubectl get -w` without a watch connection to lose).
 */
import type { Condition } from '../runtime/conditions.js';
import { kstatusVerdict } from '../runtime/kstatus.js';
import type { KubeObject } from '../runtime/kube.js';
import { approvalLine, type PitrixStatus, type Step } from './kubectl-plugin-format.js';
import { terminalSafe } from './terminal-safe.js';

export type WatchVerdict =
  | { done: false; state: string }
  | { done: true; code: 0 | 1; state: string; message: string };

/** What kstatus would say of the object, and whether the watch is over. */
export function watchVerdict(obj: KubeObject | undefined): WatchVerdict {
  if (!obj) return { done: true, code: 1, state: 'Deleted', message: 'the resource no longer exists' };
  const status = (obj.status ?? {}) as PitrixStatus;
  const generation = obj.metadata.generation;
  const v = kstatusVerdict(status.conditions, generation);
  if (v.stalled)
    return { done: true, code: 1, state: `Stalled: ${v.stalled.reason}`, message: v.stalled.message };
  if (v.reconciling) return { done: false, state: `Reconciling: ${v.reconciling.reason}` };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return { done: true, code: 0, state: 'Ready', message: ready?.message ?? '' };
}

/** Seconds as "45s", "3m20s", "1h05m". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : Number.NaN);

export interface PlanProgress {
  done: number;
  total: number;
  running?: Step;
  elapsedS?: number;
  /** Seconds left, from the mean duration of the journal's finished steps; undefined before one. */
  remainingS?: number;
  lastFailure?: Step;
}

/** Progress of the published plan, from its journal (status.plan.steps). */
export function planProgress(status: PitrixStatus, now: number): PlanProgress {
  const steps = status.plan?.steps ?? [];
  const finished = steps.filter((s) => s.state === 'Succeeded' || s.state === 'Skipped');
  const running = steps.find((s) => s.state === 'Running');
  const starts = steps.map((s) => ms(s.startedAt)).filter((t) => !Number.isNaN(t));
  const elapsedS = starts.length ? (now - Math.min(...starts)) / 1000 : undefined;
  const durations = steps
    .filter((s) => s.state === 'Succeeded')
    .map((s) => (ms(s.finishedAt) - ms(s.startedAt)) / 1000)
    .filter((d) => Number.isFinite(d) && d >= 0);
  let remainingS: number | undefined;
  if (durations.length) {
    const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
    const left = steps.filter((s) => s.state === 'Pending' || s.state === 'Failed').length;
    const runningLeft = running ? Math.max(0, mean - (now - ms(running.startedAt)) / 1000) : 0;
    remainingS = left * mean + (Number.isFinite(runningLeft) ? runningLeft : mean);
  }
  const failed = steps
    .filter((s) => s.state === 'Failed')
    .sort((a, b) => (ms(b.finishedAt) || 0) - (ms(a.finishedAt) || 0));
  return {
    done: finished.length,
    total: steps.length,
    ...(running ? { running } : {}),
    ...(elapsedS !== undefined ? { elapsedS } : {}),
    ...(remainingS !== undefined ? { remainingS } : {}),
    ...(failed[0] ? { lastFailure: failed[0] } : {}),
  };
}

/** `[█████·····]` of `width` cells. */
export function bar(done: number, total: number, width = 30): string {
  const full = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'█'.repeat(full)}${'·'.repeat(width - full)}]`;
}

function failureCondition(conditions: Condition[] | undefined): Condition | undefined {
  return (
    conditions?.find((c) => c.type === 'Stalled' && c.status === 'True') ??
    conditions?.find((c) => c.type === 'Degraded' && c.status === 'True')
  );
}

/** The frame drawn on a terminal: a few lines, none wider than `width`. */
export function watchFrame(obj: KubeObject, now: number, width = 100): string[] {
  const status = (obj.status ?? {}) as PitrixStatus;
  const v = watchVerdict(obj);
  const p = planProgress(status, now);
  const ref = `${obj.kind.toLowerCase()}/${obj.metadata.name}`;
  const lines = [`${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}   ${v.state}`];
  if (status.plan) {
    const timing = [
      p.elapsedS !== undefined ? `elapsed ${clock(p.elapsedS)}` : '',
      p.remainingS !== undefined && p.done < p.total ? `about ${clock(p.remainingS)} left` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `plan ${status.plan.hash} ${bar(p.done, p.total)} ${p.done}/${p.total} steps${timing ? `   ${timing}` : ''}`,
    );
    const approval = approvalLine(obj);
    if (approval?.includes('awaiting')) lines.push(`${approval}: kubectl pitrix plan ${ref}`);
  } else lines.push('no plan published yet');
  if ((obj.spec as { paused?: boolean } | undefined)?.paused)
    lines.push('PAUSED: kubectl pitrix resume ' + ref);
  if (p.running)
    lines.push(
      `▶ ${p.running.id} on ${p.running.host ?? 'firstbox'}, running ${clock((now - ms(p.running.startedAt)) / 1000)}`,
    );
  else if (status.currentStep) lines.push(`current step: ${status.currentStep}`);
  if (status.currentNode) lines.push(`current node: ${status.currentNode}`);
  const failure = failureCondition(status.conditions);
  if (p.lastFailure || failure) {
    const f = p.lastFailure;
    const tail = f?.outputTail?.trimEnd().split('\n').pop();
    if (f)
      lines.push(
        `✗ last failure: ${f.id} on ${f.host ?? 'firstbox'}${f.exitCode !== undefined ? ` (exit ${f.exitCode})` : ''}${tail ? `: ${tail}` : ''}`,
      );
    if (failure?.message) lines.push(`  ${failure.reason}: ${failure.message}`);
  }
  // Made terminal-safe before fitting, so a visible \xNN counts in the width the redraw relies on.
  return lines.map((l) => clip(terminalSafe(l.replace(/[\r\n\t]+/g, ' ').trimEnd()), width));
}

/** The line printed per change when stdout is not a terminal (no elapsed time: it would always change). */
export function watchLine(obj: KubeObject): string {
  const status = (obj.status ?? {}) as PitrixStatus;
  const v = watchVerdict(obj);
  const p = planProgress(status, Date.now());
  const parts = [`${obj.kind.toLowerCase()}/${obj.metadata.name}`, v.state];
  if (status.plan) parts.push(`${p.done}/${p.total} steps`);
  if (p.running) parts.push(`running ${p.running.id} on ${p.running.host ?? 'firstbox'}`);
  if (p.lastFailure) parts.push(`last failure ${p.lastFailure.id}`);
  return parts.join('  ');
}

function clip(line: string, width: number): string {
  const chars = [...line];
  return chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : line;
}

export interface WatchIo {
  /** Text, made terminal-safe by the caller's output. */
  out(text: string): void;
  err(text: string): void;
  /** The plugin's own cursor movements, written as they are (never text from the platform). */
  control(sequence: string): void;
  /** Columns of the terminal, or undefined when stdout is not one (then: one line per change). */
  columns?: number;
}

/**
 * Polls `get` every `intervalMs` and shows each change until the verdict is final; returns the exit
 * code. `signal` stops it (exit 130, as after Ctrl-C).
 */
export async function watchStatus(
  get: () => Promise<KubeObject | undefined>,
  io: WatchIo,
  opts: { intervalMs?: number; signal?: AbortSignal; now?: () => number } = {},
): Promise<number> {
  const interval = opts.intervalMs ?? 1000;
  const now = opts.now ?? Date.now;
  let drawn = 0;
  let lastText = '';
  for (;;) {
    const obj = await get();
    const v = watchVerdict(obj);
    if (io.columns !== undefined) {
      const frame = obj ? watchFrame(obj, now(), Math.max(20, io.columns - 1)) : [];
      const text = frame.join('\n');
      if (text !== lastText) {
        // Up to the first line of the previous frame, clear to the end of the screen, draw.
        io.control(`${drawn ? `\x1b[${drawn}F` : '\r'}\x1b[J`);
        io.out(`${text}\n`);
        drawn = frame.length;
        lastText = text;
      }
    } else if (obj) {
      const line = watchLine(obj);
      if (line !== lastText) io.out(`${new Date(now()).toISOString().slice(11, 19)} ${line}\n`);
      lastText = line;
    }
    if (v.done) {
      const what = obj ? `${obj.kind.toLowerCase()}/${obj.metadata.name}` : 'the resource';
      (v.code === 0 ? io.out : io.err)(`${what}: ${v.state}${v.message ? `: ${v.message}` : ''}\n`);
      return v.code;
    }
    if (opts.signal?.aborted) return 130;
    await new Promise<void>((res) => {
      const t = setTimeout(res, interval);
      opts.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          res();
        },
        { once: true },
      );
    });
    if (opts.signal?.aborted) return 130;
  }
}
