import { describe, expect, it } from 'vitest';
import type { Plan } from '../api/common.js';
import { CommandMayHaveRunError } from '../ssh/errors.js';
import type { ExecResult, Executor, ShellCommand } from '../ssh/types.js';
import { executePlan } from './engine.js';
import { journalFor } from './journal.js';
import { makePlan, type Step } from './step.js';

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

function run(steps: Step[], journal: Plan | undefined, executor: Executor, persisted: Plan[] = []) {
  const plan = makePlan(steps);
  return executePlan({
    plan,
    journal: journalFor(plan, journal, 'now'),
    executor,
    target,
    persist: async (j) => {
      persisted.push(structuredClone(j));
    },
    isPaused: () => false,
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

  it('keeps finished steps when an unrelated part of the plan changes', async () => {
    const { executor } = fakeExecutor({ 'a?': [1] });
    const first = await run(steps, undefined, executor);
    const changed: Step[] = [steps[0]!, { ...steps[1]!, command: cmd('b2') }];
    const j = journalFor(makePlan(changed), first.journal, 'now');
    expect(j.steps!.map((s) => s.state)).toEqual(['Succeeded', 'Pending']);
  });
});
