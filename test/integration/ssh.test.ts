/**
 * The SSH layer against Debian's real OpenSSH sshd on loopback addresses 127.77.250.x (the
 * simulator uses 127.77.0.x-127.77.99.x). Host keys, auth, timeouts and dropped connections are
 * OpenSSH's own behaviour.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type SshdHandle, startSshd } from '../../hack/sshd.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import {
  AuthError,
  and,
  CancelledError,
  CommandMayHaveRunError,
  CommandTimeoutError,
  ConnectError,
  credentialsFromSecret,
  HostKeyMismatchError,
  HostKeyPolicy,
  type HostKeyPolicyOptions,
  type HostTarget,
  redirect,
  SshPool,
  type SshPoolOptions,
  sh,
  shell,
} from '../../src/ssh/index.js';

let dir: string;
let key: Awaited<ReturnType<typeof generateKeyPair>>;
let other: Awaited<ReturnType<typeof generateKeyPair>>;
let sshd: SshdHandle;
const ADDRESS = '127.77.250.1';
const PORT = 2222;
const target: HostTarget = { name: 'node-a', address: ADDRESS, port: PORT, user: 'root' };

function secretOf(privateKey: string, name = 'node-creds') {
  return credentialsFromSecret({
    metadata: { namespace: 'pitrix', name },
    data: { 'ssh-privatekey': Buffer.from(privateKey).toString('base64') },
  });
}

function pool(extra: Partial<SshPoolOptions> = {}, keys: HostKeyPolicyOptions = {}): SshPool {
  return new SshPool({
    hostKeys: new HostKeyPolicy({ pins: { [target.name]: [sshd.hostKeyFingerprint] }, ...keys }),
    credentials: secretOf(key.privateKey),
    ...extra,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitrix-ssh-it-'));
  key = await generateKeyPair(dir, 'client');
  other = await generateKeyPair(dir, 'stranger');
  sshd = await startSshd({
    address: ADDRESS,
    port: PORT,
    dir: join(dir, 'sshd'),
    authorizedKeys: [key.publicKey],
  });
});

afterAll(async () => {
  await sshd?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('SshPool over real sshd', () => {
  it('runs commands and captures exit code, stdout, stderr and masked secrets', async () => {
    const p = pool();
    try {
      const r = await p.exec(
        target,
        sh('print things')`echo out ${'hello world'}; echo err >&2; echo token=s3cr3t-value; exit 3`,
        { secrets: ['s3cr3t-value'] },
      );
      expect(r).toMatchObject({ host: 'node-a', purpose: 'print things', exitCode: 3, signal: null });
      expect(r.stdout).toBe('out hello world\ntoken=******\n');
      expect(r.stderr).toBe('err\n');
      const withStdin = await p.exec(target, shell(['tr', 'a-z', 'A-Z'], 'upper-case stdin'), {
        stdin: 'abc',
      });
      expect(withStdin.stdout).toBe('ABC');
    } finally {
      await p.close();
    }
  });

  it('keeps the tail of large output within the cap', async () => {
    const p = pool({ outputCapBytes: 1000 });
    try {
      const r = await p.exec(target, sh('count')`seq 1 100000`);
      expect(r.truncated).toBe(true);
      expect(r.stdout.endsWith('99999\n100000\n')).toBe(true);
      expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1000);
    } finally {
      await p.close();
    }
  });

  it('reuses one connection for many commands and measures it', async () => {
    const connects: number[] = [];
    const p = pool({ observer: { onConnect: (_h, ms) => connects.push(ms) } });
    try {
      const t0 = performance.now();
      await p.exec(target, shell(['true'], 'warm up'));
      const first = performance.now() - t0;
      const t1 = performance.now();
      for (let i = 0; i < 25; i++) {
        const r = await p.exec(target, shell(['echo', String(i)], 'echo'));
        expect(r.stdout).toBe(`${i}\n`);
      }
      const hundred = performance.now() - t1;
      expect(connects).toHaveLength(1);
      expect(p.stats()).toMatchObject({ connections: 1, handshakes: 1, commands: 26 });
      console.log(
        `[ssh figures] first command incl. handshake ${first.toFixed(0)} ms (handshake ${connects[0]?.toFixed(0)} ms); ` +
          `25 sequential commands over one connection ${hundred.toFixed(0)} ms (${(hundred / 25).toFixed(1)} ms each)`,
      );
      const t2 = performance.now();
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => p.exec(target, shell(['echo', String(i)], 'echo'))),
      );
      console.log(
        `[ssh figures] 40 concurrent commands (8 channels) ${(performance.now() - t2).toFixed(0)} ms`,
      );
      expect(connects).toHaveLength(1);
    } finally {
      await p.close();
    }
  });

  it('queues more than 10 concurrent commands on one host within the channel bound', async () => {
    const p = pool();
    try {
      let maxInUse = 0;
      const watch = setInterval(() => {
        maxInUse = Math.max(maxInUse, p.stats().channelsInUse);
      }, 5);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          p.exec(target, sh('sleep and echo')`sleep 0.2; echo ${String(i)}`),
        ),
      );
      clearInterval(watch);
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
      expect(maxInUse).toBeLessThanOrEqual(8);
      expect(maxInUse).toBeGreaterThanOrEqual(2);
      expect(p.stats()).toMatchObject({ connections: 1, handshakes: 1 });
    } finally {
      await p.close();
    }
  });

  it('times out a hung command with a clear error, then runs the next command', async () => {
    const p = pool({ killRemoteTree: true }); // so the hung sleep does not outlive the test
    try {
      // Connect first: the timeout under test is the command's, and a loaded CI machine may take
      // a while to shake hands.
      await p.exec(target, shell(['true'], 'warm up'));
      const err = await p
        .exec(target, sh('wait for the installer')`echo started; sleep 100`, { timeoutMs: 1500 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      expect(err.message).toContain('node-a');
      expect(err.message).toContain('wait for the installer');
      expect(err.message).toContain('1500 ms');
      expect((err as CommandTimeoutError).stdoutTail).toBe('started\n');
      const next = await p.exec(target, shell(['echo', 'ok'], 'after timeout'));
      expect(next.stdout).toBe('ok\n');
      expect(p.stats().handshakes).toBe(1);
    } finally {
      await p.close();
    }
  });

  it('with killRemoteTree, a timed-out compound command leaves no process behind', async () => {
    const p = pool({ killRemoteTree: true });
    try {
      const ok = await p.exec(target, sh('exit and stdin')`read x; echo "got $x"; exit 4`, {
        stdin: 'line\n',
      });
      expect(ok).toMatchObject({ exitCode: 4, stdout: 'got line\n' });
      const err = await p
        .exec(target, sh('hang')`sleep 77.5; echo never`, { timeoutMs: 700 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      await new Promise((r) => setTimeout(r, 300));
      const left = await p.exec(target, sh('look for leftovers')`pgrep -f 'sleep 77[.]5' || true`);
      expect(left.stdout.trim()).toBe('');
    } finally {
      await p.close();
    }
  });

  it('cancels a running command via AbortSignal', async () => {
    const p = pool({ killRemoteTree: true });
    try {
      // Once while connecting (the abort lands during the handshake or channel open), once mid-run.
      const early = new AbortController();
      setTimeout(() => early.abort(), 150);
      const first = await p
        .exec(target, shell(['sleep', '100'], 'sleep'), { signal: early.signal })
        .catch((e) => e);
      expect(first instanceof CancelledError || first.cancelled === true).toBe(true);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const r = await p.exec(target, shell(['sleep', '100'], 'sleep'), { signal: ac.signal });
      expect(r.cancelled).toBe(true);
      expect(r.durationMs).toBeLessThan(5000);
    } finally {
      await p.close();
    }
  });

  it('reports a connection dropped mid-command as may-have-run and does not retry it', async () => {
    const counter = join(dir, 'counter');
    // The operator's gauge of open connections follows the drop, the reconnect and the close.
    const metrics = new OperatorMetrics({ processMetrics: false });
    const open = async () => (await metrics.sshConnections.get()).values.reduce((n, v) => n + v.value, 0);
    // killRemoteTree: the dropped channel also takes the remote `sleep` down, so nothing leaks.
    const p = pool({ killRemoteTree: true, observer: metrics.sshObserver() });
    try {
      await p.exec(target, shell(['true'], 'connect'));
      const running = p
        .exec(
          target,
          and(
            [
              redirect(shell(['echo', 'ran'], 'count'), counter, { append: true }),
              shell(['sleep', '30'], 'sleep'),
            ],
            'run the step',
          ),
        )
        .catch((e) => e);
      // Let the command start, then kill the per-connection sshd processes (not the listener).
      await waitFor(async () => existsSync(counter));
      expect(await sshd.killSessions()).toBeGreaterThan(0);
      const err = await running;
      expect(err).toBeInstanceOf(CommandMayHaveRunError);
      expect(err.message).toContain('the command may have run on node-a; check before re-running');
      await new Promise((r) => setTimeout(r, 500));
      expect((await readFile(counter, 'utf8')).trim().split('\n')).toEqual(['ran']);
      // The pool reconnects for the next command.
      expect((await p.exec(target, shell(['echo', 'back'], 'after drop'))).stdout).toBe('back\n');
      expect(p.stats().handshakes).toBe(2);
      expect(await open()).toBe(1);
    } finally {
      await p.close();
    }
    await waitFor(async () => (await open()) === 0);
  });

  it('stop() drops the sessions opened before it, as a machine going down does', async () => {
    // A host of its own: stopping the shared one would disturb the other tests.
    const own = await startSshd({
      address: '127.77.250.2',
      port: PORT,
      dir: join(dir, 'sshd-stop'),
      authorizedKeys: [key.publicKey],
    });
    const t: HostTarget = { name: 'node-stop', address: '127.77.250.2', port: PORT, user: 'root' };
    const p = new SshPool({
      hostKeys: new HostKeyPolicy({ pins: { [t.name]: [own.hostKeyFingerprint] } }),
      credentials: secretOf(key.privateKey),
    });
    const started = join(dir, 'stop-started');
    try {
      const running = p
        .exec(
          t,
          and(
            [redirect(shell(['echo', 'up'], 'mark'), started), shell(['sleep', '30'], 'sleep')],
            'hold a session',
          ),
          { timeoutMs: 60_000 },
        )
        .then(
          () => 'finished',
          (e: unknown) => e,
        );
      await waitFor(async () => existsSync(started));
      const before = Date.now();
      await own.stop();
      // The session ended with the host, long before its 30 s command could finish.
      const outcome = await running;
      expect(outcome).toBeInstanceOf(CommandMayHaveRunError);
      expect(Date.now() - before).toBeLessThan(10_000);
      // And nothing answers there any more.
      await expect(p.exec(t, shell(['true'], 'after stop'))).rejects.toBeInstanceOf(ConnectError);
    } finally {
      await p.close();
      await own.stop();
    }
  });

  it('bounds handshakes per host: 40 identities connecting at once all get through MaxStartups', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `alias-${i}`);
    const p = new SshPool({
      hostKeys: new HostKeyPolicy({
        pins: Object.fromEntries(names.map((n) => [n, [sshd.hostKeyFingerprint]])),
      }),
      credentials: secretOf(key.privateKey),
    });
    try {
      const t0 = performance.now();
      const results = await Promise.all(
        names.map((name) => p.exec({ ...target, name }, shell(['true'], 'probe'))),
      );
      expect(results.every((r) => r.exitCode === 0)).toBe(true);
      expect(p.stats().connections).toBe(40);
      console.log(
        `[ssh figures] 40 connections to one sshd, ≤4 handshakes in flight: ${(performance.now() - t0).toFixed(0)} ms`,
      );
    } finally {
      await p.close();
    }
  });

  it('refuses a wrong key with an AuthError naming the Secret', async () => {
    const p = pool({ credentials: secretOf(other.privateKey, 'wrong-creds') });
    try {
      const err = await p.exec(target, shell(['true'], 'collect node facts')).catch((e) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain('pitrix/wrong-creds');
      expect(err.message).toContain('collect node facts');
      expect(p.stats().handshakes).toBe(1); // not retried
    } finally {
      await p.close();
    }
  });

  it('reports an unreachable host as a ConnectError after bounded retries', async () => {
    const p = pool({ connectAttempts: 2, retryBaseMs: 10 });
    try {
      const err = await p
        .exec({ ...target, address: '127.77.250.9' }, shell(['true'], 'probe'))
        .catch((e) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.message).toMatch(/ECONNREFUSED/);
    } finally {
      await p.close();
    }
  });
});

describe('host keys over real sshd', () => {
  it('refuses a flipped host key with nothing executed, and repin accepts exactly that host', async () => {
    const marker = join(dir, 'marker');
    const p = pool();
    const mark = redirect(shell(['echo', 'executed'], 'write marker'), marker);
    try {
      await p.exec(target, shell(['true'], 'connect'));
      const before = sshd.hostKeyFingerprint;
      await sshd.restart({ regenerateHostKey: true });
      expect(sshd.hostKeyFingerprint).not.toBe(before);
      await p.close();

      const p2 = pool({}, { pins: { [target.name]: [before], 'node-b': [before] } });
      const err = await p2.exec(target, mark).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect(err.message).toContain('node-a');
      expect(err.message).toContain(before);
      expect(err.message).toContain(sshd.hostKeyFingerprint);
      expect(existsSync(marker)).toBe(false);

      const record = p2.repin('node-a', sshd.hostKeyFingerprint, 'R5 rebuilt the VM');
      expect(record.from).toEqual([before]);
      await p2.exec(target, mark);
      expect(existsSync(marker)).toBe(true);
      // The other host kept its pin: the same server under another name is still refused.
      const otherHost = await p2.exec({ ...target, name: 'node-b' }, shell(['true'], 'x')).catch((e) => e);
      expect(otherHost).toBeInstanceOf(HostKeyMismatchError);
      await p2.close();
    } finally {
      await p.close();
    }
  });

  it('verifies against known_hosts text, and refuses an unknown host without opt-in', async () => {
    const hashedFree = pool({}, { pins: {}, knownHosts: `# from a Secret\n${sshd.knownHostsLine}\n` });
    const strict = new SshPool({ hostKeys: new HostKeyPolicy(), credentials: secretOf(key.privateKey) });
    try {
      expect((await hashedFree.exec(target, shell(['echo', 'k'], 'x'))).stdout).toBe('k\n');
      const err = await strict.exec(target, shell(['true'], 'first contact')).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect(err.message).toContain('trust-on-first-use');
    } finally {
      await hashedFree.close();
      await strict.close();
    }
  });

  it('trust-on-first-use records the first key and then holds it', async () => {
    const recorded: Array<[string, string]> = [];
    const policy = new HostKeyPolicy({ trustOnFirstUse: true, onRecord: (h, fp) => recorded.push([h, fp]) });
    const p = new SshPool({ hostKeys: policy, credentials: secretOf(key.privateKey) });
    try {
      await p.exec(target, shell(['true'], 'first contact'));
      expect(recorded).toEqual([['node-a', sshd.hostKeyFingerprint]]);
      await p.close();
      await sshd.restart({ regenerateHostKey: true });
      const p2 = new SshPool({ hostKeys: policy, credentials: secretOf(key.privateKey) });
      const err = await p2.exec(target, shell(['true'], 'again')).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      await p2.close();
    } finally {
      await p.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
