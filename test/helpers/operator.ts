/**
 * Runs the real operator (`pitrix-operator run`) as a child process against a test control plane,
 * the way a user runs it, and reads its /metrics.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '../../hack/controlplane.js';
import { keepEvidence } from '../../hack/evidence.js';

const repoRoot = resolve(import.meta.dirname, '../..');

export interface OperatorProcess {
  child: ChildProcess;
  metricsPort: number;
  logs: string[];
  metrics(): Promise<string>;
  /** Sum of a metric's samples whose labels include all of `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startOperator(
  kubeconfig: string,
  args: string[] = [],
  env: Record<string, string> = {},
  /** The entry point (a runbook defined elsewhere starts the operator with its own registration). */
  entry = 'src/cli/main.ts',
): Promise<OperatorProcess> {
  const metricsPort = await freePort();
  const logs: string[] = [];
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      resolve(repoRoot, entry),
      ...(entry === 'src/cli/main.ts' ? ['run'] : []),
      '--kubeconfig',
      kubeconfig,
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      ...args,
    ],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (d: Buffer) => {
    const text = d.toString();
    keepEvidence('shown', text);
    for (const line of text.split('\n')) if (line) logs.push(line);
    if (logs.length > 5000) logs.splice(0, logs.length - 5000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const op: OperatorProcess = {
    child,
    metricsPort,
    logs,
    async metrics() {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) });
      return r.text();
    },
    async metric(name, labels = {}) {
      const text = await op.metrics();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(name) || line.startsWith('#')) continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const ls = Object.fromEntries(
          [...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[4]);
      }
      return sum;
    },
    stop(signal = 'SIGTERM') {
      return new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          res(code);
        });
        child.kill(signal);
      });
    },
  };
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`operator exited early:\n${logs.join('\n')}`);
      const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, {
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
      return r?.status === 200;
    },
    60_000,
    'operator /readyz',
  );
  return op;
}

export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err;
      if (String(err).includes('exited early')) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`,
  );
}
