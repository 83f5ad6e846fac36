/**
 * The acting reconciler template (src/controllers/template.ts) with a kind defined here: the
 * shared pipeline's decisions — refusals, access failures, gates, a run to Ready — observed as a
 * user would, in the status the API server accepted and the Events.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Plan } from '../../src/api/common.js';
import { resourceType } from '../../src/controllers/deps.js';
import type { ActingStatus } from '../../src/controllers/runner.js';
import { type Decision, type RunbookHooks, RunbookReconciler } from '../../src/controllers/template.js';
import { makePlan } from '../../src/runbook/step.js';
import type { ReconcileContext } from '../../src/runtime/controller.js';
import type { KubeObject } from '../../src/runtime/kube.js';
import { fakeWorld } from './fake-deps.js';
import { scripted } from './fake-executor.js';

const type = resourceType({ kind: 'Restart', plural: 'restarts' });
const Spec = z.object({ program: z.string(), paused: z.boolean().optional() });
type Restart = { metadata: KubeObject['metadata']; spec: z.infer<typeof Spec> };

const { executor, ran } = scripted({ 'supervisorctl restart ws': [{ stdout: 'ok\n' }] });

function hooks(
  over: Partial<RunbookHooks<Restart, ActingStatus, string>> = {},
): RunbookHooks<Restart, ActingStatus, string> {
  return {
    acting: {
      type,
      finalizer: 'ops.pitrix.io/restart',
      informer: (d) => d.informers.restart!,
      parse: (o) => ({ metadata: (o as KubeObject).metadata, spec: Spec.parse((o as KubeObject).spec) }),
    },
    observe: async () => 'observed',
    decide: (): Decision => ({
      run: {
        plan: makePlan([
          {
            id: 'restartProgram',
            description: 'supervisorctl restart',
            host: { kind: 'firstbox' },
            command: { script: 'supervisorctl restart ws', purpose: 'restart ws' },
            timeoutMs: 1000,
            idempotent: true,
          },
        ]),
        approval: 'Automatic',
        executor,
        target: () => ({ name: 'fb', address: '127.0.0.1', port: 22, user: 'root' }),
        readyMessage: 'restarted',
      },
    }),
    ...over,
  };
}

function setup() {
  const world = fakeWorld([{ kind: 'Restart', informer: 'restart' }]);
  world.put({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Restart',
    metadata: { namespace: 'ns', name: 'r1' },
    spec: { program: 'ws' },
  } as KubeObject);
  const status = () => world.objects.get('Restart/ns/r1')!.status as ActingStatus | undefined;
  const cond = (t: string) => status()?.conditions?.find((c) => c.type === t);
  const ctx = {
    signal: new AbortController().signal,
    log: world.deps.log,
  } as unknown as ReconcileContext;
  return { world, status, cond, ctx, req: { namespace: 'ns', name: 'r1' } };
}

describe('RunbookReconciler (the acting template)', () => {
  it('a preflight refusal says why in Ready and Progressing, once as an Event, and observes nothing', async () => {
    const { world, cond, ctx, req } = setup();
    let observed = 0;
    const r = new RunbookReconciler(
      world.deps,
      hooks({
        preflight: () => ({
          refuse: [
            {
              reason: 'ProgramUnknown',
              message: 'spec.program: ws is not a supervisor program; fix spec.program',
            },
          ],
        }),
        observe: async () => {
          observed++;
          return '';
        },
      }),
    );
    expect(await r.reconcile(req, ctx)).toEqual({ requeueAfterMs: 60_000 });
    expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'ProgramUnknown' });
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'ProgramUnknown' });
    const writes = world.statusWrites.length;
    await r.reconcile(req, ctx);
    expect(world.statusWrites.length).toBe(writes); // unchanged: nothing written again
    expect(world.events.filter((e) => e.reason === 'ProgramUnknown')).toHaveLength(1);
    expect(observed).toBe(0);
  });

  it('an observation that fails is reported with what was being read, and retried in 30 s', async () => {
    const { world, cond, ctx, req } = setup();
    const r = new RunbookReconciler(
      world.deps,
      hooks({
        observing: () => 'firstbox 10.0.0.1',
        observe: async () => {
          throw new Error('connection reset');
        },
      }),
    );
    expect(await r.reconcile(req, ctx)).toEqual({ requeueAfterMs: 30_000 });
    expect(cond('Ready')?.status).toBe('False');
    expect(cond('Ready')?.message).toContain('connection reset');
    expect(ran).toEqual([]);
  });

  it('a gate holds the plan in one write that names it (never first "Paused"), and the report sees the hold', async () => {
    const { world, cond, ctx, req } = setup();
    let held: string | undefined;
    const base = hooks().decide as () => Decision & { run: object };
    const r = new RunbookReconciler(
      world.deps,
      hooks({
        decide: () => {
          const d = base() as Extract<Decision, { run: unknown }>;
          return {
            ...d,
            run: {
              ...d.run,
              gates: [
                () => ({
                  reason: 'WaitingForWindow',
                  message: 'the next node starts at 02:00',
                  retryAfterMs: 7000,
                }),
              ],
            },
            report: (run) => {
              held = run.held?.reason;
              return undefined;
            },
          };
        },
      }),
    );
    expect(await r.reconcile(req, ctx)).toEqual({ requeueAfterMs: 7000 });
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'WaitingForWindow' });
    expect(held).toBe('WaitingForWindow');
    const reasons = world.statusWrites.map(
      (w) =>
        (w.status.conditions as Array<{ type: string; reason: string }>).find((c) => c.type === 'Progressing')
          ?.reason,
    );
    expect(reasons).not.toContain('Paused');
    expect(ran).toEqual([]);
  });

  it('spec.paused holds before any step, read from the cache of the kind', async () => {
    const { world, cond, ctx, req } = setup();
    world.objects.get('Restart/ns/r1')!.spec = { program: 'ws', paused: true };
    await new RunbookReconciler(world.deps, hooks()).reconcile(req, ctx);
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'Paused' });
  });

  it('runs the plan, journals it, and reports Ready once nothing is left', async () => {
    const { world, status, cond, ctx, req } = setup();
    ran.length = 0;
    const r = new RunbookReconciler(world.deps, hooks());
    expect(await r.reconcile(req, ctx)).toEqual({ requeueAfterMs: 1000 });
    expect(ran).toEqual(['supervisorctl restart ws']);
    expect((status()!.plan as Plan).steps?.[0]?.state).toBe('Succeeded');
    await r.reconcile(req, ctx);
    expect(cond('Ready')).toMatchObject({ status: 'True', reason: 'Completed', message: 'restarted' });
    expect(ran).toEqual(['supervisorctl restart ws']);
    expect(world.events.map((e) => e.reason)).toContain('PlanCompleted');
  });
});

describe('an approval covers the plan and the firstbox it runs through', () => {
  const zoneObj = (host: string) =>
    ({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'Zone',
      metadata: { namespace: 'ns', name: 'pek3a' },
      spec: {
        zoneId: 'pek3a',
        firstbox: { host, credentialsSecretRef: { name: 'fb' }, hostKeys: [`SHA256:${'A'.repeat(43)}`] },
      },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Reachable',
            message: '',
            lastTransitionTime: '2026-12-01T00:00:00Z',
          },
        ],
      },
    }) as unknown as KubeObject;

  function manualWorld() {
    const world = fakeWorld([
      { kind: 'Restart', informer: 'restart' },
      { kind: 'Zone', informer: 'zone' },
    ]);
    world.put(zoneObj('10.0.0.1'));
    world.put({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'Restart',
      metadata: { namespace: 'ns', name: 'r1' },
      spec: { program: 'ws' },
    } as KubeObject);
    const ctx = { signal: new AbortController().signal, log: world.deps.log } as unknown as ReconcileContext;
    const manual = hooks({
      zoneOf: () => 'pek3a',
      decide: (r) => {
        const d = hooks().decide(r, 'observed') as Extract<Decision, { run: unknown }>;
        return { ...d, run: { ...d.run, approval: 'Manual' } };
      },
    });
    const published = () => (world.objects.get('Restart/ns/r1')!.status as ActingStatus).plan!.hash;
    const approve = (hash: string) => {
      world.objects.get('Restart/ns/r1')!.metadata.annotations = { 'ops.pitrix.io/approve-plan': hash };
    };
    return { world, ctx, r: new RunbookReconciler(world.deps, manual), published, approve };
  }

  it('a firstbox host change gives the plan a new hash: the approval given before runs nothing', async () => {
    const { world, ctx, r, published, approve } = manualWorld();
    ran.length = 0;
    const req = { namespace: 'ns', name: 'r1' };
    await r.reconcile(req, ctx);
    const first = published();
    approve(first);
    // The same steps, planned for another firstbox: another plan.
    world.put(zoneObj('10.6.6.6'));
    await r.reconcile(req, ctx);
    expect(ran).toEqual([]);
    const second = published();
    expect(second).not.toBe(first);
    const cond = (world.objects.get('Restart/ns/r1')!.status as ActingStatus).conditions!.find(
      (c) => c.type === 'Progressing',
    );
    expect(cond).toMatchObject({ reason: 'AwaitingApproval' });
    expect(cond!.message).toContain(second);
    const warn = world.events.find((e) => e.reason === 'ApprovalNoLongerApplies');
    expect(warn?.message).toContain(`the approval of plan ${first} does not apply to plan ${second}`);
    // Approved again, for the firstbox it now runs through: it runs.
    approve(second);
    await r.reconcile(req, ctx);
    expect(ran).toEqual(['supervisorctl restart ws']);
  });

  it('a plan after a finished one awaits its own approval without claiming the old one was invalidated', async () => {
    const { world, ctx, r, published, approve } = manualWorld();
    ran.length = 0;
    const req = { namespace: 'ns', name: 'r1' };
    await r.reconcile(req, ctx);
    const first = published();
    approve(first);
    await r.reconcile(req, ctx);
    expect(ran).toEqual(['supervisorctl restart ws']);
    // The next plan (here: another firstbox) comes after the first one finished.
    world.put(zoneObj('10.6.6.6'));
    await r.reconcile(req, ctx);
    const second = published();
    expect(second).not.toBe(first);
    expect(world.events.some((e) => e.reason === 'ApprovalNoLongerApplies')).toBe(false);
    const published2 = world.events.filter((e) => e.reason === 'AwaitingApproval').at(-1);
    expect(published2?.message).toBe(`plan ${second} published (plan ${first} finished); approve it to run`);
    expect(ran).toEqual(['supervisorctl restart ws']);
  });

  it('an unchanged firstbox keeps the hash: the approval holds across reconciles', async () => {
    const { world, ctx, r, published, approve } = manualWorld();
    ran.length = 0;
    const req = { namespace: 'ns', name: 'r1' };
    await r.reconcile(req, ctx);
    const first = published();
    world.put(zoneObj('10.0.0.1'));
    await r.reconcile(req, ctx);
    expect(published()).toBe(first);
    approve(first);
    await r.reconcile(req, ctx);
    expect(ran).toEqual(['supervisorctl restart ws']);
  });
});
