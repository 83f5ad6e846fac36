/**
 * Facts over real sshd: the collector (one probe per node through the SSH pool, host keys checked
 * against the simulator's known_hosts) reports for every simulated host what its scenario says.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../hack/sim/platform.js';
import { collectFirstboxFacts, collectMany } from '../../src/facts/collector.js';
import { credentialsFromSecret } from '../../src/ssh/credentials.js';
import { AuthError } from '../../src/ssh/errors.js';
import { HostKeyPolicy } from '../../src/ssh/hostkeys.js';
import { SshPool } from '../../src/ssh/pool.js';
import type { HostTarget } from '../../src/ssh/types.js';

let sim: Platform;
let pool: SshPool;
const repoRoot = resolve(import.meta.dirname, '../..');

beforeAll(async () => {
  sim = await startPlatform({ scenario: resolve(repoRoot, 'examples/sim/standard.yaml'), subnet: 8 });
  pool = new SshPool({
    hostKeys: new HostKeyPolicy({ knownHosts: sim.knownHosts() }),
    credentials: credentialsFromSecret({
      metadata: { namespace: 'test', name: 'firstbox-ssh' },
      stringData: { 'ssh-privatekey': sim.clientKey.privateKey },
    }),
  });
});
afterAll(async () => {
  await pool?.close();
  await sim?.stop();
});

const target = (h: { id: string; address: string; port: number }): HostTarget => ({
  name: h.address,
  address: h.address,
  port: h.port,
  user: 'root',
});

describe('facts collected over real sshd', () => {
  it('match the scenario on every simulated host', async () => {
    const hosts = [...sim.nodes, ...sim.spare];
    const t0 = Date.now();
    const outcomes = await collectMany(pool, hosts.map(target), { concurrency: 8, timeoutMs: 60_000 });
    console.log(`collected facts from ${hosts.length} hosts in ${Date.now() - t0} ms`);
    for (const [i, o] of outcomes.entries()) {
      const host = hosts[i]!;
      expect(o.ok, `${host.id}: ${o.ok ? '' : o.error.message}`).toBe(true);
      if (!o.ok) continue;
      const want = (await sim.state(host.id)).facts;
      const got = o.value;
      expect(got.cpuCores, host.id).toBe(want.cpu);
      expect(got.arch, host.id).toBe(want.arch);
      expect(got.kernel, host.id).toBe(want.kernel);
      expect(got.memoryMiB, host.id).toBe(Math.floor(want.memoryKb / 1024));
      expect(got.os.name, host.id).toBe(want.os.name);
      expect(got.os.version, host.id).toBe(want.os.version);
      expect(
        got.disks.map((d) => `${d.name}:${d.type}:${d.sizeBytes}`),
        host.id,
      ).toEqual(want.disks.map((d) => `${d.name}:${d.type}:${d.sizeBytes}`));
      expect(got.qemuVersion !== null, host.id).toBe(want.qemu !== null);
    }
    // The spare machine's RAID SSD shows as rotational SATA and its USB stick as removable: the
    // facts a NodePool's diskOverrides correct (R4 step 3).
    const spare = outcomes.find((o) => o.target.address === sim.host('hyper3').address);
    const disks = spare?.ok ? spare.value.disks : [];
    expect(disks.find((d) => d.name === 'sdb')).toMatchObject({ rotational: true, transport: 'sata' });
    expect(disks.find((d) => d.name === 'sdc')).toMatchObject({ removable: true, transport: 'usb' });
  });

  it('reads the installer version and node list from the firstbox', async () => {
    const facts = await collectFirstboxFacts(pool, target(sim.firstbox));
    expect(facts.installerVersion).toBe('4.6.2');
    expect(facts.nodes.map((n) => n.nodeId).sort()).toEqual(sim.nodes.map((n) => n.id).sort());
    expect(facts.nodes.find((n) => n.vip)?.nodeId).toBe('webservice2');
  });

  it('reports wrong credentials as an authentication error naming the Secret', async () => {
    const other = new SshPool({
      hostKeys: new HostKeyPolicy({ knownHosts: sim.knownHosts() }),
      credentials: credentialsFromSecret({
        metadata: { namespace: 'zones', name: 'stale-key' },
        stringData: { password: 'not-the-password' },
      }),
      connectAttempts: 1,
    });
    try {
      const err = await collectFirstboxFacts(other, target(sim.firstbox)).catch((e) => e);
      const cause = err instanceof AuthError ? err : (err as { cause?: unknown }).cause;
      expect(cause).toBeInstanceOf(AuthError);
      expect((cause as Error).message).toContain('zones/stale-key');
    } finally {
      await other.close();
    }
  });
});
