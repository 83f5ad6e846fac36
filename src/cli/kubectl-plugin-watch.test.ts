import { describe, expect, it } from 'vitest';
import type { Condition } from '../runtime/conditions.js';
import type { KubeObject } from '../runtime/kube.js';
import type { Step } from './kubectl-plugin-format.js';
import {
  bar,
  clock,
  planProgress,
  watchFrame,
  watchLine,
  watchStatus,
  watchVerdict,
} from './kubectl-plugin-watch.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const at = (s: number) => new Date(now - s * 1000).toISOString();
const cond = (type: string, status: string, reason: string, message = ''): Condition => ({
  type,
  status: status as Condition['status'],
  reason,
  message,
  observedGeneration: 3,
  lastTransitionTime: at(60),
});

function pool(steps: Step[], conditions: Condition[], over: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'NodePool',
    metadata: { name: 'hyper-b', namespace: 'zones', uid: 'u', resourceVersion: '1', generation: 3 },
    spec: {},
    status: { observedGeneration: 3, conditions, plan: { hash: 'abc123', steps } },
    ...over,
  };
}

const running = [
  { id: 'addNodes', host: 'firstbox', state: 'Succeeded', startedAt: at(100), finishedAt: at(80) },
  {
    id: 'deployNode-10.0.0.5',
    action: 'deployNode',
    node: '10.0.0.5',
    host: '10.0.0.5',
    state: 'Succeeded',
    startedAt: at(80),
    finishedAt: at(40),
  },
  {
    id: 'deployNode-10.0.0.6',
    action: 'deployNode',
    node: '10.0.0.6',
    host: '10.0.0.6',
    state: 'Running',
    startedAt: at(10),
  },
  { id: 'check', host: 'firstbox', state: 'Pending' },
];
const working = [cond('Ready', 'False', 'PlanPending'), cond('Progressing', 'True', 'StepRunning', 'deploy')];

describe('status --watch', () => {
  it('judges as kstatus does: Reconciling goes on, Ready ends 0, Stalled or gone ends 1', () => {
    expect(watchVerdict(pool(running, working))).toEqual({ done: false, state: 'Reconciling: StepRunning' });
    expect(watchVerdict(pool([], [cond('Ready', 'True', 'Converged', 'all nodes ready')]))).toMatchObject({
      done: true,
      code: 0,
      state: 'Ready',
    });
    const failed = [
      cond('Ready', 'False', 'PlanPending'),
      cond('Degraded', 'True', 'StepFailed', 'deploy on 10.0.0.6 exited 1: check the repo; retry-step'),
      cond('Progressing', 'False', 'StepFailed'),
    ];
    expect(watchVerdict(pool(running, failed))).toMatchObject({
      done: true,
      code: 1,
      state: 'Stalled: StepFailed',
    });
    expect(watchVerdict(undefined)).toMatchObject({ done: true, code: 1, state: 'Deleted' });
    // Ready for an older generation is not the end.
    const stale = pool([], [{ ...cond('Ready', 'True', 'Converged'), observedGeneration: 2 }]);
    expect(watchVerdict(stale).done).toBe(false);
  });

  it('estimates the time left from the journal: mean finished step × steps left', () => {
    const p = planProgress(pool(running, working).status as never, now);
    expect(p).toMatchObject({ done: 2, total: 4, elapsedS: 100 });
    // mean 30 s; one pending (30) and the running one's remaining 20 s.
    expect(p.remainingS).toBe(50);
    expect(
      planProgress({ plan: { hash: 'h', steps: [{ id: 'a', state: 'Pending' }] } }, now).remainingS,
    ).toBe(undefined);
    expect(clock(45)).toBe('45s');
    expect(clock(200)).toBe('3m20s');
    expect(clock(3900)).toBe('1h05m');
    expect(bar(1, 4, 8)).toBe('[██······]');
  });

  it('draws the bar, the running step and host, elapsed and estimate, and the last failure with its remedy', () => {
    const frame = watchFrame(pool(running, working), now, 100);
    expect(frame[0]).toBe('NodePool zones/hyper-b   Reconciling: StepRunning');
    expect(frame[1]).toMatch(/^plan abc123 \[█{15}·{15}\] 2\/4 steps {3}elapsed 1m40s, about 50s left$/);
    expect(frame[2]).toBe('▶ deployNode-10.0.0.6 on 10.0.0.6, running 10s');
    const failedSteps = running.map((s) =>
      s.state === 'Running'
        ? { ...s, state: 'Failed', finishedAt: at(2), exitCode: 1, outputTail: 'E: repo\n\x1b[2Jgone' }
        : s,
    );
    const f = watchFrame(
      pool(failedSteps, [
        cond('Degraded', 'True', 'StepFailed', 'exited 1; remedy: fix the repo, then retry-step'),
      ]),
      now,
      100,
    );
    expect(f).toContain('✗ last failure: deployNode-10.0.0.6 on 10.0.0.6 (exit 1): \\x1b[2Jgone');
    expect(f).toContain('  StepFailed: exited 1; remedy: fix the repo, then retry-step');
    for (const l of watchFrame(pool(failedSteps, working), now, 30))
      expect([...l].length).toBeLessThanOrEqual(30);
    expect(watchLine(pool(running, working))).toBe(
      'nodepool/hyper-b  Reconciling: StepRunning  2/4 steps  running deployNode-10.0.0.6 on 10.0.0.6',
    );
  });

  it('redraws in place on a terminal, one line per change otherwise, and exits on the verdict', async () => {
    const ready = pool(
      running.map((s) => ({
        ...s,
        state: 'Succeeded',
        finishedAt: s.finishedAt ?? at(1),
        startedAt: s.startedAt ?? at(2),
      })),
      [cond('Ready', 'True', 'Converged', '3 nodes ready')],
    );
    const sequence = [pool(running, working), pool(running, working), ready];
    const run = async (columns: number | undefined) => {
      const seq = [...sequence];
      const writes: Array<[string, string]> = [];
      const code = await watchStatus(
        async () => seq.shift(),
        {
          out: (t) => writes.push(['out', t]),
          err: (t) => writes.push(['err', t]),
          control: (t) => writes.push(['control', t]),
          ...(columns ? { columns } : {}),
        },
        { intervalMs: 1, now: () => now },
      );
      return { code, writes };
    };
    const tty = await run(120);
    expect(tty.code).toBe(0);
    // Two frames (the repeated object draws nothing), the second moves up over the first.
    const controls = tty.writes.filter(([k]) => k === 'control').map(([, t]) => t);
    expect(controls).toEqual(['\r\x1b[J', '\x1b[3F\x1b[J']);
    expect(tty.writes.at(-1)).toEqual(['out', 'nodepool/hyper-b: Ready: 3 nodes ready\n']);
    const plain = await run(undefined);
    expect(plain.writes.some(([k]) => k === 'control')).toBe(false);
    expect(plain.writes.map(([, t]) => t)).toEqual([
      '12:00:00 nodepool/hyper-b  Reconciling: StepRunning  2/4 steps  running deployNode-10.0.0.6 on 10.0.0.6\n',
      '12:00:00 nodepool/hyper-b  Ready  4/4 steps\n',
      'nodepool/hyper-b: Ready: 3 nodes ready\n',
    ]);
  });
});
