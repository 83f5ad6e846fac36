import { describe, expect, it } from 'vitest';
import { AT, fixture } from '../../test/fixtures/facts/load.js';
import type { ExecOptions, ExecResult, Executor, HostTarget, ShellCommand } from '../ssh/types.js';
import { collectFirstboxFacts, collectMany, collectNodeFacts } from './collector.js';
import { FactsCollectionError, FactsParseError } from './errors.js';
import { PROBE_COMMAND } from './probe.js';

const target = (name: string): HostTarget => ({ name, address: name, port: 22, user: 'root' });
const now = () => new Date(AT);

/** Answers per host; records calls and the peak number of commands in flight. */
class FakeExecutor implements Executor {
  calls: { host: string; command: ShellCommand; options: ExecOptions | undefined }[] = [];
  inFlight = 0;
  peak = 0;
  constructor(private readonly answer: (host: string) => Partial<ExecResult> | Error) {}

  async exec(t: HostTarget, command: ShellCommand, options?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ host: t.name, command, options });
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    await new Promise((r) => setTimeout(r, 5));
    this.inFlight--;
    const a = this.answer(t.name);
    if (a instanceof Error) throw a;
    return {
      host: t.name,
      purpose: command.purpose,
      exitCode: 0,
      signal: null,
      durationMs: 5,
      stdout: '',
      stderr: '',
      truncated: false,
      ...a,
    };
  }
}

describe('collectNodeFacts', () => {
  it('runs exactly one command, the probe, with the timeout and signal', async () => {
    const ex = new FakeExecutor(() => ({ stdout: fixture('ubuntu-16.04-hyper.probe.txt') }));
    const signal = new AbortController().signal;
    const facts = await collectNodeFacts(ex, target('n1'), { timeoutMs: 5000, signal, now });
    expect(facts.collectedAt).toBe(AT);
    expect(facts.os.version).toBe('16.04.5');
    expect(ex.calls).toEqual([
      { host: 'n1', command: PROBE_COMMAND, options: { timeoutMs: 5000, output: 'head', signal } },
    ]);
  });

  it('wraps unusable output in an error naming the host, with stderr', async () => {
    const ex = new FakeExecutor(() => ({
      stdout: fixture('garbage.probe.txt'),
      stderr: 'sh: 1: m: not found',
      exitCode: 127,
    }));
    const err = await collectNodeFacts(ex, target('n1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FactsCollectionError);
    expect((err as Error).message).toMatch(
      /^n1: collecting facts failed: cannot parse output: no @@pitrix: section markers.*\(exit code 127\); stderr: "sh: 1: m: not found"$/,
    );
    expect((err as Error).cause).toBeInstanceOf(FactsParseError);
  });

  it('refuses killed and truncated runs', async () => {
    const killed = new FakeExecutor(() => ({ exitCode: null, signal: 'KILL', stdout: '' }));
    await expect(collectNodeFacts(killed, target('n1'))).rejects.toThrow(
      'n1: collecting facts failed: collect node facts was ended by KILL before it finished',
    );
    const cut = new FakeExecutor(() => ({
      truncated: true,
      stdout: fixture('ubuntu-16.04-hyper.probe.txt'),
    }));
    await expect(collectNodeFacts(cut, target('n1'))).rejects.toThrow(/printed more than the capture limit/);
  });

  it('passes SSH errors through unchanged', async () => {
    const boom = new Error('n1: connection refused');
    const ex = new FakeExecutor(() => boom);
    await expect(collectNodeFacts(ex, target('n1'))).rejects.toBe(boom);
  });
});

describe('collectFirstboxFacts', () => {
  it('runs one command and parses version and nodes', async () => {
    const ex = new FakeExecutor(() => ({ stdout: fixture('firstbox.txt') }));
    const f = await collectFirstboxFacts(ex, target('firstbox'), { now });
    expect(f.installerVersion).toBe('4.6.2');
    expect(f.nodes).toHaveLength(4);
    expect(ex.calls).toHaveLength(1);
  });
});

describe('collectMany', () => {
  const hosts = Array.from({ length: 20 }, (_, i) => target(`n${i}`));
  const answer = (host: string) =>
    host === 'n3'
      ? new Error('n3: connect timeout')
      : host === 'n7'
        ? { stdout: fixture('truncated.probe.txt') }
        : { stdout: fixture('ubuntu-14.04-hyper.probe.txt') };

  it('bounds concurrency, keeps order, and one failure does not stop the others', async () => {
    const ex = new FakeExecutor(answer);
    const out = await collectMany(ex, hosts, { concurrency: 4, now });
    expect(ex.peak).toBe(4);
    expect(out.map((o) => o.target.name)).toEqual(hosts.map((h) => h.name));
    expect(out.filter((o) => o.ok)).toHaveLength(18);
    expect(out[3]).toMatchObject({ ok: false, error: { message: 'n3: connect timeout' } });
    expect(out[7]).toMatchObject({ ok: false, error: expect.any(FactsCollectionError) });
  });

  it('does not start new targets after the signal aborts', async () => {
    const ac = new AbortController();
    const ex = new FakeExecutor((host) => {
      if (host === 'n1') ac.abort();
      return { stdout: fixture('ubuntu-14.04-hyper.probe.txt') };
    });
    const out = await collectMany(ex, hosts, { concurrency: 2, signal: ac.signal });
    expect(ex.calls.length).toBeLessThan(5);
    expect(out.at(-1)).toMatchObject({
      ok: false,
      error: { message: 'n19: collecting facts failed: cancelled before it started' },
    });
  });

  it('rejects a nonsensical concurrency', async () => {
    await expect(collectMany(new FakeExecutor(answer), hosts, { concurrency: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});
