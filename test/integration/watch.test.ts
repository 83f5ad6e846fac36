/**
 * `kubectl pitrix status -w` as a person sees it: the real kubectl finds the plugin on PATH and
 * runs it in a real terminal (tmux: capture-pane reads the screen) against a real kube-apiserver,
 * while the NodePool's status moves the way the operator writes it (a step running, the next one,
 * converged). The frame is redrawn in place (one plan line on the screen, not one per change) and
 * the watch exits 0 on Ready; piped, it prints one line per change and exits 1 on Stalled.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { waitUntil } from '../helpers/operator.js';
import { repoRoot } from '../helpers/scenario.js';

const sh = promisify(execFile);
const NS = 'watch';
const SESSION = `pitrix-watch-${process.pid}`;
let cp: ControlPlane;
let work: string;
let env: Record<string, string>;

const iso = (secondsAgo: number) =>
  new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const cond = (type: string, status: string, reason: string, message: string, generation: number) => ({
  type,
  status,
  reason,
  message,
  observedGeneration: generation,
  lastTransitionTime: iso(30),
});
const step = (id: string, state: string, host: string, started?: number, finished?: number) => ({
  id,
  state,
  host,
  ...(started !== undefined ? { startedAt: iso(started) } : {}),
  ...(finished !== undefined ? { finishedAt: iso(finished) } : {}),
});

async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await cp.kubectl([
    'patch',
    'nodepool',
    name,
    '-n',
    NS,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

async function createPool(name: string): Promise<number> {
  const pool = parse(await readFile(join(repoRoot, 'examples/nodepool-hyper.yaml'), 'utf8'));
  pool.metadata = { name, namespace: NS };
  pool.spec.eraseDataDisks.confirm = name;
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pool) });
  const { stdout } = await cp.kubectl([
    'get',
    'nodepool',
    name,
    '-n',
    NS,
    '-o',
    'jsonpath={.metadata.generation}',
  ]);
  return Number(stdout);
}

const tmux = (...args: string[]) => sh('tmux', args, { encoding: 'utf8' });
const screen = async () => (await tmux('capture-pane', '-p', '-t', SESSION)).stdout;

/** Waits until the terminal shows `text`; on timeout the error carries the screen. */
async function showing(text: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen().catch((e: Error) => `(no screen: ${e.message})`);
    if (last.includes(text)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the terminal never showed "${text}"; it shows:\n${last}`);
}

beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  work = await mkdtemp(join(tmpdir(), 'pitrix-watch-'));
  await cp.kubectl(['create', 'namespace', NS]);
  // `kubectl pitrix` found on PATH the way kubectl finds plugins.
  await writeFile(
    join(work, 'kubectl-pitrix'),
    `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(repoRoot, 'src/cli/main.ts')}" "$@"\n`,
  );
  await chmod(join(work, 'kubectl-pitrix'), 0o755);
  env = { KUBECONFIG: cp.kubeconfig, PATH: `${work}:${cp.assetsDir}:${process.env.PATH}` };
});

afterAll(async () => {
  await tmux('kill-session', '-t', SESSION).catch(() => {});
  await cp?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kubectl pitrix status --watch', () => {
  it('redraws the plan in place in a terminal and exits 0 when the pool is Ready', async () => {
    const gen = await createPool('hyper-b');
    const running = (n: number) => ({
      observedGeneration: gen,
      conditions: [
        cond('Ready', 'False', 'PlanPending', `${n}/3 steps done`, gen),
        cond('Progressing', 'True', 'StepRunning', `running step ${n + 1}`, gen),
      ],
      plan: {
        hash: 'a1b2c3d4e5f60718',
        steps: [
          step('addNodes', n >= 1 ? 'Succeeded' : 'Running', 'firstbox', 60, n >= 1 ? 40 : undefined),
          step(
            'deployNode-127.77.1.33',
            n >= 2 ? 'Succeeded' : n === 1 ? 'Running' : 'Pending',
            '127.77.1.33',
            n >= 1 ? 40 : undefined,
            n >= 2 ? 10 : undefined,
          ),
          step(
            'deployNode-127.77.1.34',
            n === 2 ? 'Running' : 'Pending',
            '127.77.1.34',
            n === 2 ? 10 : undefined,
          ),
        ],
      },
      currentStep: `step ${n + 1}`,
    });
    await setStatus('hyper-b', running(1));

    // The environment is set inside the script: tmux's shell would reset PATH from -e.
    const script = join(work, 'watch.sh');
    await writeFile(
      script,
      [
        '#!/bin/sh',
        ...Object.entries(env).map(([k, v]) => `export ${k}='${v}'`),
        `'${join(cp.assetsDir, 'kubectl')}' pitrix status np/hyper-b -n ${NS} -w`,
        'echo "EXIT=$?"',
        'sleep 120',
        '',
      ].join('\n'),
    );
    await chmod(script, 0o755);
    await tmux('new-session', '-d', '-s', SESSION, '-x', '110', '-y', '24', script);
    let s = await showing('1/3 steps', 30_000);
    expect(s).toContain('NodePool watch/hyper-b   Reconciling: StepRunning');
    expect(s).toMatch(/plan a1b2c3d4e5f60718 \[█{10}·{20}\] 1\/3 steps {3}elapsed 1m\d\ds, about \d+s left/);
    expect(s).toMatch(/▶ deployNode-127\.77\.1\.33 on 127\.77\.1\.33, running \d+s/);

    await setStatus('hyper-b', running(2));
    s = await showing('2/3 steps', 15_000);
    // Redrawn in place: one frame on the screen, the first one gone.
    expect(s.match(/^plan /gm)).toHaveLength(1);
    expect(s).not.toContain('1/3 steps');
    expect(s).toMatch(/▶ deployNode-127\.77\.1\.34 on 127\.77\.1\.34/);

    await setStatus('hyper-b', {
      observedGeneration: gen,
      conditions: [
        cond('Ready', 'True', 'Converged', '2 nodes ready', gen),
        cond('Progressing', 'False', 'Idle', '', gen),
      ],
      plan: {
        ...running(2).plan,
        steps: running(2).plan.steps.map((x) => ({ ...x, state: 'Succeeded', finishedAt: iso(1) })),
      },
      currentStep: null,
    });
    s = await showing('EXIT=', 15_000);
    expect(s).toContain('3/3 steps');
    expect(s).toContain('nodepool/hyper-b: Ready: 2 nodes ready');
    expect(s).toContain('EXIT=0');
  });

  it('prints one line per change when piped, and exits 1 with the failure and its remedy when Stalled', async () => {
    const gen = await createPool('hyper-c');
    const base = {
      observedGeneration: gen,
      plan: { hash: 'ffff000011112222', steps: [step('addNodes', 'Running', 'firstbox', 5)] },
    };
    await setStatus('hyper-c', {
      ...base,
      conditions: [
        cond('Ready', 'False', 'PlanPending', '0/1 steps done', gen),
        cond('Progressing', 'True', 'StepRunning', 'running addNodes', gen),
      ],
    });
    const child = spawn('kubectl', ['pitrix', 'status', 'nodepool/hyper-c', '-n', NS, '--watch'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    await waitUntil(async () => out.includes('running addNodes'), 30_000, 'the first line');
    await setStatus('hyper-c', {
      ...base,
      plan: {
        ...base.plan,
        steps: [
          {
            ...step('addNodes', 'Failed', 'firstbox', 5, 1),
            exitCode: 3,
            outputTail: 'add-nodes.sh: node 127.77.1.33 refused',
          },
        ],
      },
      conditions: [
        cond('Ready', 'False', 'PlanPending', '0/1 steps done', gen),
        cond(
          'Degraded',
          'True',
          'StepFailed',
          'addNodes on firstbox exited 3; remedy: check node 127.77.1.33, then retry-step',
          gen,
        ),
        cond('Progressing', 'False', 'StepFailed', 'stopped at addNodes; retrying with backoff', gen),
      ],
    });
    expect(await exited).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d nodepool\/hyper-c {2}Reconciling: StepRunning {2}0\/1 steps {2}running addNodes on firstbox$/,
    );
    expect(lines[1]).toMatch(
      /^\d\d:\d\d:\d\d nodepool\/hyper-c {2}Stalled: StepFailed {2}0\/1 steps {2}last failure addNodes$/,
    );
    expect(out).not.toContain('\x1b');
    expect(err).toContain(
      'nodepool/hyper-c: Stalled: StepFailed: addNodes on firstbox exited 3; remedy: check node 127.77.1.33, then retry-step',
    );
  });
});
