/**
 * Our side: `collectMany` with an SshPool (the operator's own code path), the real probe script,
 * host keys checked against a known_hosts text the bench generated. A fresh pool per round, so
 * every round pays every handshake (a pool that kept its connections would measure reuse).
 */
import { collectMany, collectNodeFacts } from '../../src/facts/collector.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { HostKeyPolicy, type HostTarget, SshCredentials, SshPool } from '../../src/ssh/index.js';
import type { BenchHost } from './hosts.js';

export interface RoundResult {
  wallMs: number;
  nodes: number;
  ok: number;
  nodesPerSecond: number;
  perNodeMs: number[];
  /** CPU time of this Node process during the round (client side; plus the servers when in-process). */
  cpuMs: number;
  errors: string[];
}

export function credentials(privateKey: string): SshCredentials {
  return new SshCredentials({ secret: 'bench/generated-client-key', privateKey });
}

function newPool(knownHosts: string, privateKey: string, concurrency: number): SshPool {
  return new SshPool({
    hostKeys: new HostKeyPolicy({ knownHosts }),
    credentials: credentials(privateKey),
    maxConnections: Math.max(concurrency, 16),
  });
}

/**
 * One round over every host. `check` says what is wrong with one node's facts (undefined: fine):
 * a node that answered garbage must not count as collected.
 */
export async function collectRound(opts: {
  hosts: readonly BenchHost[];
  knownHosts: string;
  privateKey: string;
  concurrency: number;
  check: (host: BenchHost, facts: NodeFacts) => string | undefined;
}): Promise<RoundResult> {
  const pool = newPool(opts.knownHosts, opts.privateKey, opts.concurrency);
  const byName = new Map(opts.hosts.map((h) => [h.target.name, h]));
  const perNodeMs: number[] = [];
  const timed = async (executor: SshPool, target: HostTarget, o: object) => {
    const t = performance.now();
    const facts = await collectNodeFacts(executor, target, o);
    perNodeMs.push(performance.now() - t);
    return facts;
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const outcomes = await collectMany(
      pool,
      opts.hosts.map((h) => h.target),
      { concurrency: opts.concurrency, timeoutMs: 30_000 },
      (e, t, o) => timed(e as SshPool, t, o),
    );
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const errors: string[] = [];
    for (const o of outcomes) {
      if (!o.ok) errors.push(`${o.target.name}: ${o.error.message}`);
      else {
        const problem = opts.check(byName.get(o.target.name)!, o.value);
        if (problem) errors.push(`${o.target.name}: ${problem}`);
      }
    }
    const ok = outcomes.length - errors.length;
    return {
      wallMs,
      nodes: outcomes.length,
      ok,
      nodesPerSecond: (ok / wallMs) * 1000,
      perNodeMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      errors,
    };
  } finally {
    await pool.close();
  }
}

/** One node at a time, each with a fresh pool: the unloaded latency of one collection. */
export async function collectSequential(opts: {
  hosts: readonly BenchHost[];
  knownHosts: string;
  privateKey: string;
}): Promise<number[]> {
  const out: number[] = [];
  for (const h of opts.hosts) {
    const pool = newPool(opts.knownHosts, opts.privateKey, 1);
    try {
      const t = performance.now();
      await collectNodeFacts(pool, h.target, { timeoutMs: 30_000 });
      out.push(performance.now() - t);
    } finally {
      await pool.close();
    }
  }
  return out;
}
