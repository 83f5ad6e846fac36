/** The in-process SSH mode: 250 nodes in one process answer the fact probe from scenario data. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type InProcessPlatform, startInProcess } from '../../hack/sim/inprocess.js';
import { generateKeyPair } from '../../hack/sshd.js';
import { collectMany } from '../../src/facts/collector.js';
import { HostKeyPolicy, SshCredentials, SshPool } from '../../src/ssh/index.js';

let p: InProcessPlatform;
let dir: string;
let key: string;
let privateKey: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sim-inproc-'));
  const k = await generateKeyPair(dir, 'id');
  key = k.privateKeyPath;
  privateKey = k.privateKey;
  const t0 = Date.now();
  p = await startInProcess({ count: 250, authorizedKeys: [k.publicKey], prefix: '127.78' });
  console.log(`250 in-process nodes up in ${Date.now() - t0} ms`);
  writeFileSync(join(dir, 'known_hosts'), p.hosts.map((h) => `${h.knownHostsLine}\n`).join(''));
});

afterAll(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('answers the probe batch of the last of 250 nodes over a real ssh client', async () => {
  expect(p.hosts).toHaveLength(250);
  const h = p.hosts[249]!;
  const script = ['arch', 'cpu', 'lsb', 'packages', 'supervisor']
    .map((s) => `echo '@@pitrix:${s}@@'; true`)
    .join('; ');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'ssh',
      [
        '-i',
        key,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
        '-o',
        'BatchMode=yes',
        `root@${h.address}`,
        `${script}; echo '@@pitrix:end@@'`,
      ],
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
  expect(out).toMatch(
    /^@@pitrix:arch@@\nx86_64\n@@pitrix:cpu@@\n32\n@@pitrix:lsb@@\nUbuntu 16\.04\.5 LTS\n@@pitrix:packages@@\npitrix-global-conf 4\.6\.2-1 install ok installed\n/,
  );
  expect(out).toMatch(/compute_server\s+RUNNING/);
  expect(out.endsWith('@@pitrix:end@@\n')).toBe(true);
  expect(p.execCount.get(h.id)).toBe(1);
});

it('answers the real node probe: SshPool + collectMany get every node its scenario facts', async () => {
  const hosts = p.hosts.slice(0, 40);
  const pool = new SshPool({
    hostKeys: new HostKeyPolicy({ knownHosts: hosts.map((h) => h.knownHostsLine).join('\n') }),
    credentials: new SshCredentials({ secret: 'test/inprocess-key', privateKey }),
  });
  try {
    const out = await collectMany(
      pool,
      hosts.map((h) => ({ name: h.id, address: h.address, port: h.port, user: 'root' })),
      { concurrency: 16 },
    );
    for (const [i, o] of out.entries()) {
      const h = hosts[i]!;
      if (!o.ok) throw o.error;
      expect(o.value.cpuCores).toBe(h.state.facts.cpu);
      expect(o.value.os.version).toBe(h.state.facts.os.version);
      expect(o.value.nics.find((n) => n.name === 'eth0')?.addresses).toEqual([`${h.address}/16`]);
      expect(o.value.supervisor).toBe('ok');
      expect(o.value.disks.length, h.id).toBeGreaterThan(0);
      expect(p.execCount.get(h.id)).toBe(1);
    }
  } finally {
    await pool.close();
  }
});
