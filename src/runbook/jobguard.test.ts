import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sh } from '../ssh/command.js';
import type { ShellCommand } from '../ssh/types.js';
import { GUARD_SCRIPT, GuardCheckExit, GuardExit, guardJob, installGuardStep } from './jobguard.js';

// The guard's scripts run through the real /bin/sh of this machine, as on a firstbox.
const root = mkdtempSync(join(tmpdir(), 'jobguard-'));
const program = join(root, 'pitrix-job');
writeFileSync(program, GUARD_SCRIPT);
chmodSync(program, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const guard = (spec: Parameters<typeof guardJob>[0]) => guardJob(spec, root, program);

function run(cmd: ShellCommand): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('/bin/sh', ['-c', cmd.script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job guard', () => {
  it('runs a job once, reports it running while it runs and done after, and refuses a second start', async () => {
    const marker = join(root, 'runs');
    const g = guard({
      stepId: 'scaleQingcloud',
      lockScope: 'pek3a',
      command: sh('job')`echo started >> ${marker}; sleep 2; echo finished`,
    });
    expect((await run(g.check)).code).toBe(1); // no directory, no status check: not done
    const first = run(g.command);
    await sleep(1200);
    expect((await run(g.check)).code).toBe(3);
    const second = await run(g.command);
    expect(second.code).toBe(GuardExit.alreadyStarted);
    expect(second.out).toContain('not starting it again');
    const done = await first;
    expect(done.code).toBe(0);
    expect(done.out).toContain('finished');
    const check = await run(g.check);
    expect(check.code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('started\n');
  });

  it('keeps the job running when the session that started it dies', async () => {
    const g = guard({ stepId: 'configQingcloud', lockScope: 'z2', command: sh('job')`sleep 2; echo ok` });
    const p = spawn('/bin/sh', ['-c', g.command.script], { stdio: 'ignore' });
    await sleep(800);
    p.kill('SIGKILL');
    expect((await run(g.check)).code).toBe(3);
    await sleep(2500);
    expect((await run(g.check)).code).toBe(0);
  });

  it('reports a failed job as failed, and a later start runs it again', async () => {
    const g = guard({ stepId: 'addNodes', lockScope: 'z3', command: sh('job')`echo boom; exit 9` });
    expect((await run(g.command)).code).toBe(9);
    const check = await run(g.check);
    expect(check.code).toBe(GuardCheckExit.lastRunFailed);
    expect(check.out).toContain('exited 9');
    expect((await run(g.command)).code).toBe(9);
  });

  it('reports a job whose process vanished as lost, never as not done', async () => {
    const g = guard({ stepId: 'lost', lockScope: 'z4', command: sh('job')`sleep 30` });
    const first = run(g.command);
    await sleep(1200);
    const pid = Number(readFileSync(join(g.dir, 'pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const r = await first;
    expect(r.code).toBe(GuardExit.lost);
    expect((await run(g.check)).code).toBe(GuardCheckExit.lost);
    expect((await run(g.command)).code).toBe(GuardExit.alreadyStarted);
    spawn('pkill', ['-f', 'sleep 30']);
  });

  it('never runs two guarded jobs of one zone at once', async () => {
    const a = guard({ stepId: 'a', lockScope: 'z5', command: sh('job')`sleep 2` });
    const b = guard({ stepId: 'b', lockScope: 'z5', command: sh('job')`echo b` });
    const ra = run(a.command);
    await sleep(1000);
    const rb = await run(b.command);
    expect(rb.code).toBe(GuardExit.zoneBusy);
    expect((await ra).code).toBe(0);
    expect((await run(b.command)).code).toBe(0);
  });

  it('passes the status check through only when it answers 0 or 1', async () => {
    const mk = (status: ShellCommand) =>
      guard({ stepId: 's', lockScope: 'z6', command: sh('job')`true`, statusCheck: status }).check;
    expect((await run(mk(sh('done')`true`))).code).toBe(0);
    expect((await run(mk(sh('not done')`false`))).code).toBe(1);
    expect((await run(mk(sh('usage error')`exit 2`))).code).toBe(2);
    expect((await run(mk(sh('not found')`/no/such/tool`))).code).toBe(2);
  });

  it('installs itself from stdin only when the digest matches, and its check proves the file unchanged', async () => {
    const step = installGuardStep();
    const at = join(root, 'bin');
    const local = (c: ShellCommand) => ({
      ...c,
      script: c.script.replaceAll('/pitrix/conf/operator/bin', at),
    });
    expect(step.command.script).not.toContain('flock');
    expect((await run(local(step.check!))).code).toBe(1);
    const install = spawn('/bin/sh', ['-c', local(step.command).script], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    install.stdin.end(step.stdinContent);
    expect(await new Promise((r) => install.on('close', r))).toBe(0);
    expect((await run(local(step.check!))).code).toBe(0);
    const bad = spawn('/bin/sh', ['-c', local(step.command).script], { stdio: ['pipe', 'ignore', 'ignore'] });
    bad.stdin.end(`${step.stdinContent}# tampered\n`);
    expect(await new Promise((r) => bad.on('close', r))).not.toBe(0);
    expect((await run(local(step.check!))).code).toBe(0);
  });
});
