/**
 * Issue 12, items 1 and 5, tried as a hostile tenant would: a NodePool naming a host its author
 * runs (an SSH server recording every authentication attempt), first not listed by the installer,
 * then listed (and known to the firstbox), and a NodePool naming the firstbox's address on another
 * port. The recorder must never see a password or the operator's firstbox key; the NodePool says
 * per node what happened; the Zone keeps working with its firstbox pin unchanged.
 */
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Scenario, startScenario } from '../helpers/scenario.js';

interface Attempt {
  method: string;
  username: string;
  /** SHA256 of the offered public key blob (publickey), or the password (password). */
  key?: string;
  password?: string;
}

interface Recorder {
  address: string;
  port: number;
  knownHostsLine: string;
  attempts: Attempt[];
  connections: number;
  close(): Promise<void>;
}

const blobDigest = (b: Buffer) => createHash('sha256').update(b).digest('base64');
const lineDigest = (publicKeyLine: string) =>
  blobDigest(Buffer.from(publicKeyLine.trim().split(/\s+/)[1]!, 'base64'));

/** An SSH server that accepts nothing and records every authentication attempt. */
async function startRecorder(address: string, port: number): Promise<Recorder> {
  const keys = ed25519KeyPair();
  const rec: Recorder = {
    address,
    port,
    knownHostsLine: `${port === 22 ? address : `[${address}]:${port}`} ${keys.public.split(' ').slice(0, 2).join(' ')}`,
    attempts: [],
    connections: 0,
    close: async () => undefined,
  };
  const server = new ssh2.Server({ hostKeys: [keys.private] }, (client) => {
    rec.connections++;
    client.on('authentication', (ctx) => {
      const a: Attempt = { method: ctx.method, username: ctx.username };
      if (ctx.method === 'publickey') a.key = blobDigest(ctx.key.data);
      if (ctx.method === 'password') a.password = ctx.password;
      rec.attempts.push(a);
      ctx.reject(['publickey', 'password', 'keyboard-interactive']);
    });
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  rec.close = () => new Promise<void>((r) => server.close(() => r()));
  return rec;
}

let cp: ControlPlane;
let sc: Scenario;
const recorders: Recorder[] = [];
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  sc = await startScenario(cp, 'standard.yaml', { subnet: 101 });
  await applyZone(sc, 'pek3a', 'pek3a');
  await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);
}, 240_000);
afterAll(async () => {
  await Promise.all(recorders.map((r) => r.close()));
  await sc?.stop();
  await cp?.stop();
});

function pool(name: string, addresses: string[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'NodePool',
    metadata: { name },
    spec: {
      zoneRef: { name: 'pek3a' },
      role: 'hyper',
      // Nothing may run: only observation is under test.
      approval: 'Manual',
      nodes: addresses.map((address) => ({ address })),
      ...extra,
    },
  };
}

async function nodeStatus(poolName: string, address: string, pattern: RegExp) {
  let last: unknown;
  await waitUntil(
    async () => {
      const p = await sc.get('nodepool', poolName);
      const n = p.status?.nodes?.find((x) => x.address === address);
      last = n;
      return !!n?.message && pattern.test(n.message);
    },
    90_000,
    `${poolName}: ${address} reported as ${pattern}`,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last seen ${JSON.stringify(last)}`);
  });
  return (await sc.get('nodepool', poolName)).status!.nodes!.find((x) => x.address === address)!;
}

/** Adds a collected node record for `address` to the installer's list, as add/collect-nodes would. */
async function listInInstaller(address: string, nodeId: string) {
  await sc.sim.mutate('firstbox', (s) => {
    const f = s.firstbox!;
    const like = f.nodes.find((n) => n.zone_id === 'pek3a')!;
    f.nodes.push({
      ...like,
      node_id: nodeId,
      hostname: nodeId,
      mgmt_ip: address,
      roles: [],
      status: 'collected',
    });
  });
}

async function addToFirstboxKnownHosts(line: string) {
  const kh = await sc.sim.readState('firstbox', 'root/.ssh/known_hosts');
  await sc.sim.writeFile('firstbox', 'root/.ssh/known_hosts', `${kh}${line}\n`);
}

describe('hostile NodePools (issue 12: nodes only through the firstbox; endpoint-keyed pins)', () => {
  const leaks: string[] = [];
  const operatorKey = () => lineDigest(sc.sim.clientKey.publicKey);

  function leaked(r: Recorder): Attempt[] {
    return r.attempts.filter(
      (a) => a.method === 'password' || a.method === 'keyboard-interactive' || a.key === operatorKey(),
    );
  }

  it('a host the installer does not list is never contacted: Pending, no connection at all', async () => {
    const rec = await startRecorder('127.77.9.9', 22);
    recorders.push(rec);
    await sc.apply(pool('evil-unlisted', [rec.address, sc.sim.spare[0]!.address]));
    const n = await nodeStatus('evil-unlisted', rec.address, /not listed by the installer/);
    // Planned (Deploying while the Manual approval waits), with no probed facts.
    expect(['Pending', 'Deploying']).toContain(n.phase);
    expect(n.facts).toBeUndefined();
    // Give the operator time for more observations.
    await new Promise((r) => setTimeout(r, 3000));
    expect(rec.connections).toBe(0);
    expect(rec.attempts).toEqual([]);
    leaks.push(...leaked(rec).map((a) => `unlisted: ${a.method}`));
    console.log(
      `attack unlisted host: connections=${rec.connections} attempts=${rec.attempts.length} leaks=0`,
    );
  });

  it('a listed host is reached only by the firstbox ssh with its own key: never a password or the operator key', async () => {
    const rec = await startRecorder('127.77.9.10', 22);
    recorders.push(rec);
    await listInInstaller(rec.address, 'evil1');
    await addToFirstboxKnownHosts(rec.knownHostsLine);
    await sc.apply(pool('evil-listed', [rec.address, sc.sim.spare[1]!.address]));
    const n = await nodeStatus('evil-listed', rec.address, /firstbox's key is not accepted/);
    expect(n.phase).toBe('Unreachable');
    expect(n.message).toMatch(/127\.77\.9\.10:22/);
    expect(n.message).toMatch(/establish_ssh\.sh/);
    // The recorder did see the firstbox's ssh (so it can tell), and nothing else.
    const firstboxKey = lineDigest(await sc.sim.readState('firstbox', 'root/.ssh/id_ed25519.pub'));
    expect(rec.attempts.length).toBeGreaterThan(0);
    for (const a of rec.attempts) {
      expect(['none', 'publickey']).toContain(a.method);
      if (a.method === 'publickey') expect(a.key).toBe(firstboxKey);
    }
    expect(leaked(rec)).toEqual([]);
    leaks.push(...leaked(rec).map((a) => `listed: ${a.method}`));
    console.log(
      `attack listed host: connections=${rec.connections} attempts=${rec.attempts.length} ` +
        `(${[...new Set(rec.attempts.map((a) => a.method))].join(',')}, firstbox's own key only) leaks=${leaked(rec).length}`,
    );
  });

  it('a listed host whose key the firstbox does not know is not contacted', async () => {
    const rec = await startRecorder('127.77.9.11', 22);
    recorders.push(rec);
    await listInInstaller(rec.address, 'evil2');
    await sc.apply(pool('evil-unknown-key', [rec.address, sc.sim.spare[0]!.address]));
    const n = await nodeStatus('evil-unknown-key', rec.address, /known_hosts has no host key/);
    expect(n.phase).toBe('Unreachable');
    expect(rec.connections).toBe(0);
    console.log(`attack listed host, key unknown to the firstbox: connections=${rec.connections} leaks=0`);
  });

  it("the firstbox's address on another port can never change the firstbox pin: the Zone keeps working", async () => {
    const fb = sc.sim.firstbox;
    const rec = await startRecorder(fb.address, 2222);
    recorders.push(rec);
    const zoneBefore = await sc.get('zone', 'pek3a');
    // Worst case: the installer lists the firstbox's address and the firstbox knows the rogue key.
    await listInInstaller(fb.address, 'evil3');
    await addToFirstboxKnownHosts(rec.knownHostsLine);
    await sc.apply(pool('evil-firstbox-port', [fb.address, sc.sim.spare[1]!.address], { sshPort: 2222 }));
    const n = await nodeStatus('evil-firstbox-port', fb.address, /firstbox's key is not accepted/);
    expect(n.message).toMatch(new RegExp(`${fb.address.replaceAll('.', '\\.')}:2222`));
    expect(n.hostKey).not.toBe(fb.hostKeyFingerprint);
    expect(leaked(rec)).toEqual([]);
    // The zone still reaches its firstbox with the pinned key: a fresh NodePool observes fine.
    await sc.apply(pool('after', [sc.sim.spare[0]!.address, sc.sim.spare[1]!.address]));
    const after = await nodeStatus('after', sc.sim.spare[0]!.address, /not listed by the installer/);
    expect(['Pending', 'Deploying']).toContain(after.phase);
    const zone = await sc.get('zone', 'pek3a');
    expect(condition(zone, 'Ready')?.status).toBe('True');
    expect(zone.status?.firstboxHostKey).toEqual(zoneBefore.status?.firstboxHostKey);
    const evil = await sc.get('nodepool', 'evil-firstbox-port');
    expect(condition(evil, 'Ready')?.reason).not.toBe('HostKeyMismatch');
    leaks.push(...leaked(rec).map((a) => `firstbox-port: ${a.method}`));
    console.log(
      `attack firstbox address on port 2222: attempts=${rec.attempts.length} leaks=${leaked(rec).length}; zone Ready, firstbox pin unchanged`,
    );
  });

  it('adds up: 4 attacks, 0 leaks', () => {
    expect(leaks).toEqual([]);
    console.log(`hostile NodePools: 4 attacks tried, ${leaks.length} leaks`);
  });
});
