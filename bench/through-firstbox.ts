/**
 * Fact collection on the path the operator uses since issue 12: every node probed through the
 * firstbox's own ssh (src/ssh/relay.ts), compared with the former direct connections, on the
 * simulator (real OpenSSH sshd per host). `npx tsx bench/through-firstbox.ts [--rounds N]
 * [--scenario examples/sim/FILE.yaml]`; prints one line per path (wall time per round, per node).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startPlatform } from '../hack/sim/platform.js';
import { ZoneExecutor } from '../src/controllers/platform.js';
import { collectMany } from '../src/facts/collector.js';
import { credentialsFromSecret } from '../src/ssh/credentials.js';
import { HostKeyPolicy } from '../src/ssh/hostkeys.js';
import { SshPool } from '../src/ssh/pool.js';
import type { Executor, HostTarget } from '../src/ssh/types.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    scenario: { type: 'string', default: 'examples/sim/standard.yaml' },
    concurrency: { type: 'string', default: '8' },
  },
});
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const sim = await startPlatform({ scenario: resolve(values.scenario!) });
try {
  const pool = () =>
    new SshPool({
      hostKeys: new HostKeyPolicy({ knownHosts: sim.knownHosts() }),
      credentials: credentialsFromSecret({ stringData: { 'ssh-privatekey': sim.clientKey.privateKey } }),
    });
  const fb: HostTarget = {
    name: sim.firstbox.address,
    address: sim.firstbox.address,
    port: sim.firstbox.port,
    user: 'root',
  };
  const nodes = sim.nodes.map((n) => ({ name: n.address, address: n.address, port: n.port, user: 'root' }));
  const measure = async (
    label: string,
    exec: Executor & { close(): Promise<void> },
    targets: HostTarget[],
  ) => {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const out = await collectMany(exec, targets, { concurrency, timeoutMs: 60_000 });
      times.push(performance.now() - t0);
      const bad = out.filter((o) => !o.ok);
      if (bad.length)
        throw new Error(`${label}: ${bad.map((b) => (b.ok ? '' : b.error.message)).join('; ')}`);
    }
    await exec.close();
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    console.log(
      `${label}: ${targets.length} nodes, concurrency ${concurrency}, ${rounds} rounds: median ${median.toFixed(0)} ms per round ` +
        `(${(median / targets.length).toFixed(0)} ms per node), first ${times[0]!.toFixed(0)} ms, worst ${times.at(-1)!.toFixed(0)} ms`,
    );
  };
  await measure('direct (before issue 12)', pool(), nodes);
  await measure(
    "through the firstbox's ssh (now)",
    new ZoneExecutor(pool(), fb),
    nodes.map((n) => ({ ...n, role: 'node' as const })),
  );
} finally {
  await sim.stop();
}
