/**
 * `npm run bench -- burst [--pools 100] [--record]`: P NodePools applied at once (one `kubectl
 * apply`) to a running operator (bench/lib/scale.ts); the time until every pool is Ready with its
 * nodes' facts observed through the firstbox and its (empty) plan published, the operator's peak
 * RSS and the API request rate it caused. Issue 15 asks 1,000 pools across 100 Zones in ≤ 60 s;
 * the default here is 100 pools in one simulated zone (2 cores shared): `--pools 1000` for the full
 * count.
 */
import { parseArgs } from 'node:util';
import { commandLine, header, load1, log, machine, textTable, writeResult } from './lib/result.js';
import { apiRequests, apply, diff, pools, proc, startRig, WRITE_VERBS, waitFor } from './lib/scale.js';

const TARGET_S = 60;
const { values } = parseArgs({
  options: { pools: { type: 'string', default: '100' }, record: { type: 'boolean' } },
  strict: true,
});
const count = Number(values.pools);
if (!Number.isInteger(count) || count < 1 || count > 2000) throw new Error('--pools must be 1..2000');
const m = machine();
const rig = await startRig([]);
let result: Record<string, unknown>;
try {
  const pid = rig.op.child.pid!;
  const before = await apiRequests(rig);
  const p0 = proc(pid);
  let peakRss = p0.rssBytes;
  const load = load1();
  log(`applying ${count} NodePools at once (load ${load})`);
  const t0 = performance.now();
  await apply(rig, pools(rig, count));
  const applied = performance.now() - t0;
  const w = await waitFor(rig, 'nodepools', count, 15 * 60_000, () => {
    peakRss = Math.max(peakRss, proc(pid).rssBytes);
  });
  const totalS = (applied + w.ms) / 1000;
  const after = await apiRequests(rig);
  const p1 = proc(pid);
  const d = diff(before, after);
  // Ours: one apply (a few requests per item, server side), and one LIST per poll.
  const ownGets = w.polls + 2;
  const total = Object.values(d).reduce((s, x) => s + x, 0) - ownGets - count;
  const writes = WRITE_VERBS.reduce((s, v) => s + (d[v] ?? 0), 0) - count;
  result = {
    pools: count,
    zones: 1,
    secondsToAllReady: Math.round(totalS * 10) / 10,
    applySeconds: Math.round(applied / 100) / 10,
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    operatorCpuSeconds: Math.round((p1.cpuMs - p0.cpuMs) / 100) / 10,
    apiRequestsByVerb: d,
    operatorRequests: total,
    operatorWrites: writes,
    operatorQps: Math.round((total / totalS) * 10) / 10,
    loadavg1: load,
    clientRateLimit: 'none: the operator has no client-side QPS limit; the figure is what it asked for',
  };
} finally {
  await rig.stop();
}
const met = (result.secondsToAllReady as number) <= TARGET_S;
const notes = [
  `${count} NodePools of the simulated zone's two deployed hyper nodes, applied by one kubectl apply; "all Ready": every pool Ready=True with both nodes' facts in status (observed through the firstbox: real OpenSSH sshd on loopback).`,
  "API requests: the API server's apiserver_request_total over the burst, minus the benchmark's own (the apply and one LIST per second of polling); all of the rest is the operator.",
  `Target ≤ ${TARGET_S} s for 1,000 pools across 100 zones; this run: ${count} pools in 1 zone: ${met ? 'met for this count' : 'MISSED'}.`,
];
console.log(
  [
    header('Burst of NodePools', m),
    `command: ${commandLine('burst')}`,
    '',
    textTable([
      [
        'pools',
        'zones',
        'all Ready s',
        'peak RSS MiB',
        'operator CPU s',
        'API requests',
        'writes',
        'QPS',
        'load',
      ],
      [
        count,
        1,
        String(result.secondsToAllReady),
        String(result.peakRssMiB),
        String(result.operatorCpuSeconds),
        String(result.operatorRequests),
        String(result.operatorWrites),
        String(result.operatorQps),
        String(result.loadavg1),
      ],
    ]),
    '',
  ]
    .concat(notes.map((n) => `note: ${n}`))
    .join('\n'),
);
writeResult(
  'burst',
  {
    schema: 'pitrix-bench/burst/v1',
    date: new Date().toISOString(),
    command: commandLine('burst'),
    machine: m,
    results: result,
    target: { seconds: TARGET_S, pools: 1000, zones: 100, measuredPools: count, met },
    notes,
  } as never,
  !!values.record,
);
