/**
 * `npm run bench -- engine [--steps 200] [--record]`: the operator's time per step above the
 * command's own time (bench/lib/engine.ts), against a real kube-apiserver + etcd and an in-process
 * ssh2 node. Target (issue 15): ≤ 50 ms per step, median and p95. For a profile, run it as
 * `node --cpu-prof --cpu-prof-dir bench/results --import tsx bench/main.ts engine`.
 */
import { parseArgs } from 'node:util';
import { startControlPlane } from '../hack/controlplane.js';
import { type EngineFigures, measureEngine } from './lib/engine.js';
import { commandLine, header, load1, log, machine, textTable, writeResult } from './lib/result.js';

const TARGET_MS = 50;
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    record: { type: 'boolean' },
  },
  strict: true,
});
const steps = Number(values.steps);
const rounds = Number(values.rounds);
if (!Number.isInteger(steps) || steps < 2 || steps > 256)
  throw new Error('--steps must be 2..256 (a plan holds at most 256 steps)');
const m = machine();
log('starting kube-apiserver + etcd (hack/controlplane.ts)');
const cp = await startControlPlane({ log });
const runs: (EngineFigures & { loadavg1: number })[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    const load = load1();
    log(`round ${r + 1}/${rounds}: ${steps} steps (load ${load})`);
    runs.push({ ...(await measureEngine(cp, { steps })), loadavg1: load });
  }
} finally {
  await cp.stop();
}
const f = (x: number) => x.toFixed(1);
const rows: (string | number)[][] = [
  [
    'round',
    'steps',
    'over p50 ms',
    'over p95 ms',
    'status PUT',
    'lock GET',
    'check',
    'operator',
    'PUTs/step',
    'PUT p50',
    'cmd ms',
    'API GET ref',
    'SSH ref',
    'ratio',
    'cpu ms/step',
    'load',
  ],
  ...runs.map((r, i) => [
    i + 1,
    r.steps,
    f(r.overheadMs.median),
    f(r.overheadMs.p95),
    f(r.breakdownMs.statusWrites),
    f(r.breakdownMs.zoneLockGet),
    f(r.breakdownMs.check),
    f(r.breakdownMs.operator),
    r.statusWritesPerStep,
    f(r.statusWriteMs.median),
    f(r.commandMs),
    f(r.reference.apiGetMs),
    f(r.reference.sshExecMs),
    r.ratio.toFixed(2),
    f(r.cpuMsPerStep),
    r.loadavg1,
  ]),
];
const worst = Math.max(...runs.map((r) => r.overheadMs.p95));
const notes = [
  `A plan of ${steps} steps (command \`true\`, check \`false\`) run by runPlan with the zone lock, each step journaled Running and Succeeded in status and a StepSucceeded Event; SSH to one in-process ssh2 node, the API a real kube-apiserver + etcd (--unsafe-no-fsync) on this machine.`,
  '"over": operator time per step above the command\'s own exec, from the end of one command to the end of the next; split (means per step) into status PUTs, the zone-lock GET, the check\'s SSH exec, and the operator\'s own work (the rest). Events are sent off the step\'s path and not included in "over".',
  '"ratio": over p50 ÷ (2 × bare API GET + bare SSH exec, same run): the figure the regression guard holds to 2× its recorded value.',
  `Target ≤ ${TARGET_MS} ms per step (median and p95): ${worst <= TARGET_MS ? 'met' : 'MISSED'} (worst p95 ${f(worst)} ms).`,
];
console.log(
  [header('Engine per-step overhead', m), `command: ${commandLine('engine')}`, '', textTable(rows), '']
    .concat(notes.map((n) => `note: ${n}`))
    .join('\n'),
);
writeResult(
  'engine',
  {
    schema: 'pitrix-bench/engine/v1',
    date: new Date().toISOString(),
    command: commandLine('engine'),
    machine: m,
    config: { steps, rounds },
    results: runs,
    target: { msPerStep: TARGET_MS, worstP95: worst, met: worst <= TARGET_MS },
    notes,
  } as never,
  !!values.record,
);
