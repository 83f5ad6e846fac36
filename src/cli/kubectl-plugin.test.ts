import { describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../runtime/kube.js';
import { parseTarget, pluginCommand, resolveKind } from './kubectl-plugin.js';
import { formatList, formatPlan, formatStatus } from './kubectl-plugin-format.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const pool = (over: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'ops.pitrix.io/v1alpha1',
  kind: 'NodePool',
  metadata: { name: 'hyper-b', namespace: 'zones', uid: 'u', resourceVersion: '7', generation: 2 },
  spec: { approval: 'Manual' },
  status: {
    observedGeneration: 2,
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'PlanPending',
        message: '1/3 steps done',
        lastTransitionTime: '2026-01-01T11:55:00Z',
      },
      {
        type: 'Degraded',
        status: 'True',
        reason: 'StepFailed',
        message: 'step configQingcloud on firstbox exited 2',
        lastTransitionTime: '2026-01-01T11:59:00Z',
      },
    ],
    plan: {
      hash: 'abcdef0123456789',
      steps: [
        {
          id: 'addNodes',
          host: 'firstbox',
          state: 'Succeeded',
          description: 'R4.1 add',
          startedAt: '2026-01-01T11:56:00Z',
          finishedAt: '2026-01-01T11:56:03Z',
        },
        {
          id: 'configQingcloud',
          host: 'firstbox',
          state: 'Failed',
          exitCode: 2,
          outputTail: 'checking\nvbc network overlaps mgmt network',
          command: "config-qingcloud.py -s 'x'",
        },
        { id: 'checkServices-10.0.0.5', host: '10.0.0.5', state: 'Pending' },
      ],
    },
    currentStep: 'configQingcloud',
    nodes: [{ address: '10.0.0.5', phase: 'Deploying' }],
  },
  ...over,
});

describe('kubectl pitrix', () => {
  it('resolves kinds by any of their names and targets as KIND/NAME or KIND NAME', () => {
    expect(resolveKind('np')?.kind).toBe('NodePool');
    expect(resolveKind('WebserviceUpgrades')?.kind).toBe('WebserviceUpgrade');
    expect(resolveKind('zones.ops.pitrix.io')?.kind).toBe('Zone');
    expect(resolveKind('pods')).toBeUndefined();
    expect(parseTarget(['wsu/to-1804']).name).toBe('to-1804');
    expect(parseTarget(['nodepool', 'hyper-b']).kind.kind).toBe('NodePool');
    expect(() => parseTarget(['pod/x'])).toThrow(/unknown kind "pod"/);
    expect(() => parseTarget(['np'])).toThrow(/name the NodePool/);
  });

  it('status shows conditions, steps with states, the failed output and the current node', () => {
    const text = formatStatus(pool(), now);
    expect(text).toContain('NodePool zones/hyper-b  (generation 2, observed 2)');
    expect(text).toMatch(/Degraded\s+True\s+StepFailed\s+60s\s+step configQingcloud on firstbox exited 2/);
    expect(text).toMatch(/✓ addNodes\s+Succeeded\s+firstbox\s+3s\s+R4\.1 add/);
    expect(text).toMatch(/✗ configQingcloud\s+Failed/);
    expect(text).toContain(
      'configQingcloud on firstbox (exit 2):\n    | checking\n    | vbc network overlaps mgmt network',
    );
    expect(text).toContain(
      'Plan abcdef0123456789 (3 steps: 1 succeeded, 1 failed, 1 pending), approval Manual: awaiting approval',
    );
    expect(text).toContain('Current node: 10.0.0.5');
  });

  it('plan prints the hash to approve and, on request, the exact commands', () => {
    const text = formatPlan(pool(), { commands: true });
    expect(text).toContain("$ config-qingcloud.py -s 'x'");
    expect(text).toContain('kubectl pitrix approve nodepool/hyper-b --hash abcdef0123456789 -n zones');
    expect(formatList([pool()], false)).toMatch(
      /nodepool\/hyper-b\s+False\s+PlanPending\s+configQingcloud\s+1\/3/,
    );
  });

  it('approve refuses a hash that is not the published plan and patches nothing', async () => {
    const patches: object[] = [];
    const client = {
      get: async () => pool(),
      mergePatch: async (_t: unknown, _ns: string, _n: string, p: object) => {
        patches.push(p);
        return pool();
      },
    } as unknown as KubeClient;
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    expect(
      await pluginCommand('approve', ['np/hyper-b', '--hash', 'ffff', '-n', 'zones'], { client, output: io }),
    ).toBe(1);
    expect(out.join('')).toContain('the plan changed since it was shown');
    expect(patches).toEqual([]);
    expect(
      await pluginCommand('approve', ['np/hyper-b', '--hash', 'abcdef0123456789', '-n', 'zones'], {
        client,
        output: io,
      }),
    ).toBe(0);
    expect(patches).toEqual([
      {
        metadata: { resourceVersion: '7', annotations: { 'ops.pitrix.io/approve-plan': 'abcdef0123456789' } },
      },
    ]);
  });
});

describe('terminal escapes from remote output', () => {
  it('status shows a step output tail with its escape sequences made visible, never sent to the terminal', async () => {
    const hostile = pool();
    const steps = (hostile.status as { plan: { steps: Array<Record<string, unknown>> } }).plan.steps;
    steps.push({
      id: 'configQingcloud',
      host: 'firstbox',
      state: 'Failed',
      outputTail: 'ok\n\u001b]0;pwned\u0007\u001b[2J\u001b[31mall good\r\u009b1A',
    });
    const client = { get: async () => hostile } as unknown as KubeClient;
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    expect(await pluginCommand('status', ['np/hyper-b', '-n', 'zones'], { client, output: io })).toBe(0);
    const text = out.join('');
    expect(text).toContain('\\x1b]0;pwned\\x07\\x1b[2J');
    // Nothing a terminal would act on: no ESC, BEL, CR or C1 control.
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
