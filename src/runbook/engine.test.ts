import { describe, expect, it } from 'vitest';
import { scripted } from '../../test/unit/fake-executor.js';
import type { Plan } from '../api/common.js';
import { CancelledError, CommandMayHaveRunError, CommandTimeoutError } from '../ssh/errors.js';
import type { ExecResult, Executor, ShellCommand } from '../ssh/types.js';
import { executePlan } from './engine.js';
import { journalFor } from './journal.js';
import { makePlan, planHash, type Step } from './step.js';

const fb = { kind: 'firstbox' } as const;
const cmd = (script: string): ShellCommand => ({ script, purpose: script });
const target = () => ({ name: 'fb', address: '127.0.0.1', port: 22, user: 'root' });

/** A scripted platform: each script maps to exit codes consumed in order (last one repeats). */
function fakeExecutor(behaviour: Record<string, Array<number | 'drop'>>) {
  const ran: string[] = [];
  const executor: Executor = {
    async exec(_t, c): Promise<ExecResult> {
      ran.push(c.script);
      const seq = behaviour[c.script] ?? [0];
      const next = seq.length > 1 ? seq.shift()! : seq[0]!;
      if (next === 'drop') throw new CommandMayHaveRunError({ host: 'fb', purpose: c.purpose });
      return {
        host: 'fb',
        purpose: c.purpose,
        exitCode: next,
        signal: null,
        durationMs: 1,
        stdout: `out of ${c.script}`,
        stderr: '',
        truncated: false,
      };
    },
  };
  return { executor, ran };
}

// The plan as given (makePlan would add the guard's installation before a guarded step).
const planOf = (steps: Step[]) => ({ steps, hash: planHash(steps) });

function run(steps: Step[], journal: Plan | undefined, executor: Executor, persisted: Plan[] = []) {
  const plan = planOf(steps);
  return executePlan({
    plan,
    journal: journalFor(plan, journal, 'now'),
    executor,
    target,
    persist: async (j) => {
      persisted.push(structuredClone(j));
    },
    signal: new AbortController().signal,
    now: () => 't',
  });
}

const steps: Step[] = [
  { id: 'a', description: 'A', host: fb, command: cmd('a'), timeoutMs: 1000, check: cmd('a?') },
  { id: 'b', description: 'B', host: fb, command: cmd('b'), timeoutMs: 1000 },
];

describe('executePlan', () => {
  it('journals each step before and after it runs', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [1] });
    const persisted: Plan[] = [];
    const out = await run(steps, undefined, executor, persisted);
    expect(out.kind).toBe('completed');
    expect(ran).toEqual(['a?', 'a', 'b']);
    expect(persisted.map((p) => p.steps!.map((s) => s.state).join(','))).toEqual([
      'Running,Pending',
      'Succeeded,Pending',
      'Succeeded,Running',
      'Succeeded,Succeeded',
    ]);
    expect(out.journal.steps![0]!.outputTail).toBe('out of a');
  });

  it('skips a step whose check says it is already done', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [0] });
    await run(steps, undefined, executor);
    expect(ran).toEqual(['a?', 'b']);
  });

  it('stops at a failed step with its exit code and output, and continues once fixed', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [1], b: [2, 0] });
    const out = await run(steps, undefined, executor);
    expect(out.kind).toBe('failed');
    if (out.kind !== 'failed') return;
    expect(out.message).toContain('step b on firstbox exited 2');
    expect(out.step.exitCode).toBe(2);
    const again = await run(steps, out.journal, executor);
    expect(again.kind).toBe('completed');
    expect(ran.filter((s) => s === 'a')).toHaveLength(1);
  });

  it('resolves a step found Running after a crash with its check, never blindly', async () => {
    const plan = makePlan(steps);
    const crashed = journalFor(plan, undefined, 'now');
    crashed.steps![0]!.state = 'Running';
    const { executor, ran } = fakeExecutor({ 'a?': [0] });
    const out = await run(steps, crashed, executor);
    expect(out.kind).toBe('completed');
    expect(ran).toEqual(['a?', 'b']);
    expect(out.journal.steps![0]!.outputTail).toContain('verified done by its check');
  });

  it('waits for a human when a step without a check was interrupted', async () => {
    const plan = makePlan(steps);
    const crashed = journalFor(plan, undefined, 'now');
    crashed.steps![0]!.state = 'Succeeded';
    crashed.steps![1]!.state = 'Running';
    const { executor, ran } = fakeExecutor({});
    const out = await run(steps, crashed, executor);
    expect(out.kind).toBe('interrupted');
    expect(ran).toEqual([]);
  });

  it('does not re-run a command whose connection dropped mid-way when it has no check', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [1], b: ['drop'] });
    const out = await run(steps, undefined, executor);
    expect(out.kind).toBe('interrupted');
    const again = await run(steps, out.journal, executor);
    expect(again.kind).toBe('interrupted');
    expect(ran.filter((s) => s === 'b')).toHaveLength(1);
  });

  it('reports a long platform job as in progress (check exit 3) without running it again', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [3] });
    const out = await run(steps, undefined, executor);
    expect(out.kind).toBe('inProgress');
    expect(ran).toEqual(['a?']);
  });

  it('starts a new plan from Pending: its checks, not the old journal, decide what is done', async () => {
    const { executor, ran } = fakeExecutor({ 'a?': [1, 0] });
    const first = await run(steps, undefined, executor);
    const changed: Step[] = [steps[0]!, { ...steps[1]!, command: cmd('b2') }];
    const j = journalFor(makePlan(changed), first.journal, 'now');
    expect(j.steps!.map((s) => s.state)).toEqual(['Pending', 'Pending']);
    const out = await run(changed, j, executor);
    expect(out.kind).toBe('completed');
    expect(ran).toEqual(['a?', 'a', 'b', 'a?', 'b2']);
  });
});

/** An executor whose answers are given per script as results or thrown errors, in order. */

const job: Step[] = [
  {
    id: 'scale',
    description: 'S',
    host: fb,
    command: cmd('scale'),
    check: cmd('scale?'),
    timeoutMs: 1000,
    job: { dir: '/j' },
  },
  { id: 'after', description: 'A', host: fb, command: cmd('after'), timeoutMs: 1000, readOnly: true },
];
const drop = () => new CommandMayHaveRunError({ host: 'fb', purpose: 'p' });
const timeout = () =>
  new CommandTimeoutError({ host: 'fb', purpose: 'p', timeoutMs: 5, stdout: '', stderr: '' });

describe('executePlan: only a recognised "not done" lets a step run', () => {
  const unknownChecks: Array<[string, Partial<ExecResult> | Error, string]> = [
    ['a cancelled check', { cancelled: true, exitCode: null }, 'CheckCancelled'],
    ['a check ended by a signal', { exitCode: null, signal: 'KILL' }, 'CheckUnrecognised'],
    ['a usage error (exit 2)', { exitCode: 2, stderr: 'usage: get-status.py [-h]' }, 'CheckUnrecognised'],
    ['command not found (127)', { exitCode: 127 }, 'CheckUnrecognised'],
    ['a check that timed out', timeout(), 'CheckTimedOut'],
    ['a check whose connection dropped', drop(), 'CheckUnreachable'],
    [
      'a cancelled connect',
      new CancelledError('cancelled', { host: 'fb', purpose: 'p', remedy: 'r' }),
      'CheckCancelled',
    ],
    ['a guarded job that vanished (5)', { exitCode: 5, stdout: 'pitrix-job: gone' }, 'JobLost'],
  ];
  for (const [name, answer, reason] of unknownChecks) {
    for (const state of ['Pending', 'Running'] as const) {
      it(`${name}, step ${state}: stops with ${reason} and runs nothing`, async () => {
        const plan = planOf(job);
        const j = journalFor(plan, undefined, 'now');
        j.steps![0]!.state = state;
        const { executor, ran } = scripted({ 'scale?': [answer] });
        const out = await run(job, j, executor);
        expect(out.kind).toBe('interrupted');
        if (out.kind !== 'interrupted') return;
        expect(out.reason).toBe(reason);
        expect(out.retryCheck).toBe(reason !== 'JobLost');
        expect(ran).toEqual(['scale?']);
        expect(out.journal.steps![0]!.state).toBe(state);
      });
    }
  }

  it('leaves a guarded job Running when its connection drops or it times out, and asks its check next', async () => {
    for (const err of [drop(), timeout()]) {
      const { executor, ran } = scripted({
        'scale?': [{ exitCode: 1 }, { exitCode: 3 }, { exitCode: 0 }],
        scale: [err],
      });
      const first = await run(job, undefined, executor);
      expect(first.kind).toBe('inProgress');
      expect(first.journal.steps![0]!.state).toBe('Running');
      const second = await run(job, first.journal, executor);
      expect(second.kind).toBe('inProgress');
      const third = await run(job, second.journal, executor);
      expect(third.kind).toBe('completed');
      expect(ran.filter((s) => s === 'scale')).toHaveLength(1);
    }
  });

  it('records a guarded job that failed while nobody watched as Failed, then runs it again on retry', async () => {
    const plan = planOf(job);
    const j = journalFor(plan, undefined, 'now');
    j.steps![0]!.state = 'Running';
    const { executor, ran } = scripted({ 'scale?': [{ exitCode: 4, stdout: 'exited 9' }] });
    const out = await run(job, j, executor);
    expect(out.kind).toBe('failed');
    expect(out.journal.steps![0]!.state).toBe('Failed');
    expect(ran).toEqual(['scale?']);
    const again = await run(job, out.journal, executor);
    expect(again.kind).toBe('completed');
    expect(ran).toEqual(['scale?', 'scale?', 'scale', 'after']);
  });

  it('treats the guard refusing a second start as "may have run": Running, the check decides', async () => {
    const { executor } = scripted({ 'scale?': [{ exitCode: 1 }], scale: [{ exitCode: 75 }] });
    const out = await run(job, undefined, executor);
    expect(out.kind).toBe('inProgress');
    expect(out.journal.steps![0]!.state).toBe('Running');
  });

  it('puts a job refused because the zone is busy back to Pending, nothing ran', async () => {
    const { executor } = scripted({
      'scale?': [{ exitCode: 1 }],
      scale: [{ exitCode: 74, stdout: 'another guarded job holds' }],
    });
    const out = await run(job, undefined, executor);
    expect(out.kind).toBe('blocked');
    if (out.kind !== 'blocked') return;
    expect(out.reason).toBe('ZoneJobBusy');
    expect(out.journal.steps![0]!.state).toBe('Pending');
  });

  it('a read-only step may simply run again after an interruption', async () => {
    const plan = planOf(job);
    const j = journalFor(plan, undefined, 'now');
    j.steps![0]!.state = 'Succeeded';
    j.steps![1]!.state = 'Running';
    const { executor, ran } = scripted({});
    const out = await run(job, j, executor);
    expect(out.kind).toBe('completed');
    expect(ran).toEqual(['after']);
  });

  it('a cancelled or signalled command without a check waits for a human', async () => {
    for (const answer of [
      { cancelled: true, exitCode: null },
      { exitCode: null, signal: 'TERM' },
    ]) {
      const { executor } = scripted({ 'a?': [{ exitCode: 1 }], b: [answer] });
      const out = await run(steps, undefined, executor);
      expect(out.kind).toBe('interrupted');
      expect(out.journal.steps![1]!.state).toBe('Running');
    }
  });

  it('resolves stdin before marking a step Running: a missing Secret keeps it Pending', async () => {
    const plan = makePlan(steps);
    const persisted: Plan[] = [];
    const { executor, ran } = scripted({ 'a?': [{ exitCode: 1 }] });
    const out = await executePlan({
      plan,
      journal: journalFor(plan, undefined, 'now'),
      executor,
      target,
      persist: async (j) => {
        persisted.push(structuredClone(j));
      },
      signal: new AbortController().signal,
      stdinFor: async () => {
        throw new Error('Secret default/node-creds has no key "password"');
      },
    });
    expect(out.kind).toBe('blocked');
    if (out.kind !== 'blocked') return;
    expect(out.reason).toBe('SecretUnavailable');
    expect(out.message).toContain('node-creds');
    expect(out.journal.steps![0]!.state).toBe('Pending');
    expect(persisted).toEqual([]);
    expect(ran).toEqual(['a?']);
  });

  it('asks beforeStep before every step and stops, nothing run, when it objects', async () => {
    const plan = makePlan(steps);
    let n = 0;
    const { executor, ran } = scripted({ 'a?': [{ exitCode: 1 }] });
    const out = await executePlan({
      plan,
      journal: journalFor(plan, undefined, 'now'),
      executor,
      target,
      persist: async () => {},
      signal: new AbortController().signal,
      beforeStep: async () => (n++ === 0 ? undefined : 'the zone lock is held by NodePool/other'),
    });
    expect(out.kind).toBe('blocked');
    if (out.kind !== 'blocked') return;
    expect(out.reason).toBe('ZoneLockLost');
    expect(ran).toEqual(['a?', 'a']);
  });

  it('masks the secrets it was given, of any length', async () => {
    const plan = makePlan([steps[1]!]);
    const seen: Array<readonly string[] | undefined> = [];
    const executor: Executor = {
      async exec(_t, c, o) {
        seen.push(o?.secrets);
        return {
          host: 'fb',
          purpose: c.purpose,
          exitCode: 0,
          signal: null,
          durationMs: 1,
          stdout: '',
          stderr: '',
          truncated: false,
        };
      },
    };
    await executePlan({
      plan,
      journal: journalFor(plan, undefined, 'now'),
      executor,
      target,
      persist: async () => {},
      signal: new AbortController().signal,
      stdinFor: async () => ({ text: 'yop\nab\n', secrets: ['ab'] }),
    });
    expect(seen).toEqual([['ab']]);
  });
});
