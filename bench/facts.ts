/**
 * `npm run bench [-- facts]`: node fact collection, ours (SshPool + collectMany + the real probe) against
 * Ansible (`ansible all -m setup -a gather_subset=min`, forks = our concurrency), on loopback.
 *
 *  - ours and Ansible on the same R real OpenSSH sshd hosts (hack/sshd.ts, 127.77.51.x), default
 *    200 (`--real 50` for a lighter run: 200 sshd processes start in ~7 s and idle cheaply, and
 *    Ansible's 200 hosts take ~1.5 min on 2 cores);
 *  - ours alone on N in-process ssh2 nodes (hack/sim/inprocess.ts, 127.78.0.x), default 200;
 *  - references: a bare `ssh host true` (OpenSSH, curve25519), one node at a time for each tool.
 *
 * Everything it starts is stopped at the end, on an error and on Ctrl-C. See docs/benchmarks.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateKeyPair } from '../hack/sshd.js';
import type { NodeFacts } from '../src/facts/types.js';
import { type AnsibleRun, ensureAnsible, prepareAnsible, runAnsible } from './lib/ansible.js';
import { Cleanup } from './lib/cleanup.js';
import {
  type BenchHost,
  knownHostsText,
  shellStartup,
  startInProcessHosts,
  startRealHosts,
} from './lib/hosts.js';
import { sshTrue } from './lib/openssh.js';
import { collectRound, collectSequential, type RoundResult } from './lib/ours.js';
import { killAllChildren, run } from './lib/proc.js';
import { fmt, latencyRow, type ThroughputResult, table, throughputRow } from './lib/report.js';
import { median, round, type Summary, summarize } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_RATIO = 5;
const cleanup = new Cleanup();

const HELP = `npm run bench -- [options]
  --nodes N            in-process nodes for our collector (default 200)
  --real N             real sshd hosts, both tools (default 200; 127.77.51.1 …; 50 for a lighter run)
  --concurrency N      our collectMany concurrency = Ansible forks (default 16)
  --rounds N           our throughput rounds per host set (default 3)
  --ansible-rounds N   Ansible throughput rounds (default 1)
  --ssh-samples N      sequential \`ssh host true\` samples (default 20)
  --single N           sequential single-node collections, ours (default 10)
  --ansible-single N   sequential single-host Ansible runs (default 3)
  --bashrc hide|keep   root's ~/.bashrc on the bench sshd hosts (default hide; see docs/benchmarks.md)
  --inprocess-port P   port of the in-process nodes (default 2251)
  --no-ansible         skip Ansible (and its install)
  --out FILE           JSON result (default bench/results/latest.json)
  --record             also write bench/results/YYYY-MM-DD.json (the committed, reviewable copy)
  --keep-dir           keep the work dir (inventory, ansible.cfg, logs) for inspection`;

function int(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer ${min}..${max}`);
  return n;
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function versionOf(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return 'unknown';
  }
}

function sshVersion(): string {
  // `ssh -V` prints its version on stderr.
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim() || 'unknown';
}

/** The repo lints bench/** with biome: write result files in its format so `npm run lint` stays clean. */
async function formatJson(files: string[]): Promise<void> {
  if (files.length === 0) return;
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  const r = await run([biome, 'format', '--write', ...files], { timeoutMs: 30_000, cwd: ROOT }).catch(
    (err: Error) => ({ code: 1, stderr: err.message }),
  );
  if (r.code !== 0) log(`could not format ${files.join(', ')} with biome (the JSON is still valid)`);
}

function sample<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

function summarizeRounds(
  tool: string,
  where: string,
  rounds: RoundResult[],
): ThroughputResult & { errors: string[] } {
  return {
    tool,
    where,
    hosts: rounds[0]?.nodes ?? 0,
    rounds: rounds.map((r) => ({
      wallMs: round(r.wallMs),
      nodesPerSecond: round(r.nodesPerSecond),
      ok: r.ok,
      cpuMs: round(r.cpuMs),
    })),
    nodesPerSecond: round(median(rounds.map((r) => r.nodesPerSecond))),
    perNode: summarize(rounds.flatMap((r) => r.perNodeMs)),
    cpuMsPerNode: round(median(rounds.map((r) => r.cpuMs / r.nodes)), 2),
    errors: rounds.flatMap((r) => r.errors).slice(0, 20),
  };
}

function summarizeAnsible(hosts: number, runs: AnsibleRun[]): ThroughputResult & { errors: string[] } {
  const perHost = runs.flatMap((r) =>
    r.rows.filter((x) => x.status === 'ok' && x.start !== null).map((x) => (x.end - x.start!) * 1000),
  );
  const errors: string[] = [];
  const rounds = runs.map((r) => {
    const ok = r.rows.filter((x) => x.status === 'ok' && x.distribution).length;
    for (const x of r.rows) if (x.status !== 'ok') errors.push(`${x.host}: ${x.status}: ${x.msg ?? ''}`);
    if (r.rows.length < hosts) {
      errors.push(
        `ansible reported ${r.rows.length} of ${hosts} hosts (exit ${r.exitCode}); stderr: ${r.stderr.slice(-600)}`,
      );
    }
    return {
      wallMs: round(r.wallMs),
      nodesPerSecond: round((ok / r.wallMs) * 1000),
      ok,
      cpuMs: r.controllerCpuMs === undefined ? undefined : round(r.controllerCpuMs),
    };
  });
  const cpu = rounds.map((r) => r.cpuMs).filter((c): c is number => c !== undefined);
  return {
    tool: 'Ansible setup min',
    where: 'real sshd',
    hosts,
    rounds,
    nodesPerSecond: round(median(rounds.map((r) => r.nodesPerSecond))),
    perNode: summarize(perHost),
    cpuMsPerNode: cpu.length ? round(median(cpu) / hosts, 2) : undefined,
    errors: errors.slice(0, 20),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      real: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      'ansible-rounds': { type: 'string' },
      'ssh-samples': { type: 'string' },
      single: { type: 'string' },
      'ansible-single': { type: 'string' },
      bashrc: { type: 'string' },
      'inprocess-port': { type: 'string' },
      'no-ansible': { type: 'boolean' },
      out: { type: 'string' },
      record: { type: 'boolean' },
      'keep-dir': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const cfg = {
    nodes: int(values.nodes, 'nodes', 200, 1, 2000),
    real: int(values.real, 'real', 200, 1, 2250),
    concurrency: int(values.concurrency, 'concurrency', 16, 1, 256),
    rounds: int(values.rounds, 'rounds', 3, 1, 20),
    ansibleRounds: int(values['ansible-rounds'], 'ansible-rounds', 1, 1, 10),
    sshSamples: int(values['ssh-samples'], 'ssh-samples', 20, 1, 500),
    single: int(values.single, 'single', 10, 1, 200),
    ansibleSingle: int(values['ansible-single'], 'ansible-single', 3, 1, 50),
    bashrc: values.bashrc ?? 'hide',
    inprocessPort: int(values['inprocess-port'], 'inprocess-port', 2251, 1, 65535),
    ansible: !values['no-ansible'],
  };
  if (cfg.bashrc !== 'hide' && cfg.bashrc !== 'keep') throw new Error('--bashrc must be hide or keep');
  if (process.getuid?.() !== 0)
    throw new Error('run as root: the bench starts sshd processes (hack/sshd.ts)');

  cleanup.onSignals();
  const dir = mkdtempSync(join(tmpdir(), 'pitrix-bench-'));
  cleanup.add('remove work dir', () => {
    if (values['keep-dir']) log(`work dir kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  cleanup.add('kill child processes', killAllChildren, { first: true });
  const started = new Date();
  const load0 = loadavg();
  // Other work on the machine moves the numbers: each measured phase records the load it met.
  const phases: { phase: string; at: string; loadavg1: number }[] = [];
  const phase = (line: string) => {
    cleanup.check();
    phases.push({ phase: line, at: new Date().toISOString(), loadavg1: round(loadavg()[0]!, 2) });
    log(line);
  };
  try {
    let ansibleVersion: string | undefined;
    if (cfg.ansible) ansibleVersion = (await ensureAnsible(log)).version;

    const key = await generateKeyPair(dir, 'bench-client');
    const { startup, wrap } = shellStartup(dir, cfg.bashrc === 'hide');
    log(startup.note);

    let t = performance.now();
    const inproc = await startInProcessHosts({
      count: cfg.nodes,
      port: cfg.inprocessPort,
      publicKey: key.publicKey,
      cleanup,
    });
    log(
      `${cfg.nodes} in-process nodes up on 127.78.0.x:${cfg.inprocessPort} in ${Math.round(performance.now() - t)} ms`,
    );
    t = performance.now();
    const real = await startRealHosts({ count: cfg.real, dir, publicKey: key.publicKey, wrap, cleanup });
    log(
      `${cfg.real} real sshd hosts up on ${real[0]!.target.address}…${real.at(-1)!.target.address}:22 in ${Math.round(performance.now() - t)} ms`,
    );

    const knownHosts = knownHostsText([...real, ...inproc.hosts]);
    const knownHostsPath = join(dir, 'known_hosts');
    writeFileSync(knownHostsPath, knownHosts);

    const stateOf = new Map(inproc.platform.hosts.map((h) => [h.address, h.state]));
    const checkInProcess = (h: BenchHost, f: NodeFacts) => {
      const s = stateOf.get(h.target.address);
      if (!s) return 'not a bench node';
      if (f.cpuCores !== s.facts.cpu) return `cpuCores ${f.cpuCores}, scenario says ${s.facts.cpu}`;
      if (f.os.version !== s.facts.os.version)
        return `OS ${f.os.version}, scenario says ${s.facts.os.version}`;
      if (!f.nics.some((n) => n.addresses.some((a) => a.startsWith(`${h.target.address}/`))))
        return `no NIC with ${h.target.address}`;
      return undefined;
    };
    const localCores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    const checkReal = (_h: BenchHost, f: NodeFacts) => {
      if (f.cpuCores !== localCores) return `cpuCores ${f.cpuCores}, nproc says ${localCores}`;
      if (f.memoryMiB <= 0 || !f.os.name || f.disks.length === 0) return 'incomplete facts';
      return undefined;
    };

    // Warm-up (not measured): page in sshd, ssh, the JIT of our client.
    await sshTrue(real.slice(0, 1), key.privateKeyPath, knownHostsPath);
    await collectSequential({ hosts: real.slice(0, 1), knownHosts, privateKey: key.privateKey });

    phase(`bare ssh host true: ${cfg.sshSamples} sequential samples on real sshd and on in-process nodes`);
    const sshReal = summarize(
      await sshTrue(sample(real, cfg.sshSamples), key.privateKeyPath, knownHostsPath),
    );
    const sshInproc = summarize(
      await sshTrue(sample(inproc.hosts, cfg.sshSamples), key.privateKeyPath, knownHostsPath),
    );

    phase(`ours, one node at a time: ${cfg.single} real sshd hosts`);
    const singleOurs = summarize(
      await collectSequential({ hosts: sample(real, cfg.single), knownHosts, privateKey: key.privateKey }),
    );

    phase(
      `ours, throughput: ${cfg.rounds} round(s) over ${cfg.nodes} in-process nodes, concurrency ${cfg.concurrency}`,
    );
    const inprocRounds: RoundResult[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      cleanup.check();
      inprocRounds.push(
        await collectRound({
          hosts: inproc.hosts,
          knownHosts,
          privateKey: key.privateKey,
          concurrency: cfg.concurrency,
          check: checkInProcess,
        }),
      );
    }
    phase(
      `ours, throughput: ${cfg.rounds} round(s) over ${cfg.real} real sshd hosts, concurrency ${cfg.concurrency}`,
    );
    const realRounds: RoundResult[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      cleanup.check();
      realRounds.push(
        await collectRound({
          hosts: real,
          knownHosts,
          privateKey: key.privateKey,
          concurrency: cfg.concurrency,
          check: checkReal,
        }),
      );
    }
    const oursInproc = summarizeRounds('pitrix collector', 'in-process ssh2', inprocRounds);
    const oursReal = summarizeRounds('pitrix collector', 'real sshd', realRounds);

    let ansible: (ThroughputResult & { errors: string[] }) | undefined;
    let singleAnsible: Summary | undefined;
    let ansibleSettings: Record<string, string | boolean> | undefined;
    if (cfg.ansible) {
      const setup = await prepareAnsible({
        dir: join(dir, 'ansible'),
        hosts: real,
        privateKeyPath: key.privateKeyPath,
        knownHostsPath,
        forks: cfg.concurrency,
      });
      ansibleSettings = setup.settings;
      phase(
        `Ansible, one host at a time: ${cfg.ansibleSingle} hosts (each a whole \`ansible HOST -m setup\` run)`,
      );
      const singles: number[] = [];
      for (const [i, h] of sample(real, cfg.ansibleSingle).entries()) {
        cleanup.check();
        const r = await runAnsible(setup, h.target.address, 1, `single-${i}`, 120_000);
        const row = r.rows[0];
        if (r.exitCode !== 0 || row?.status !== 'ok') {
          throw new Error(
            `ansible ${h.target.address} -m setup failed (exit ${r.exitCode}): ${row?.msg ?? r.stderr.slice(-800)}`,
          );
        }
        singles.push(r.wallMs);
      }
      singleAnsible = summarize(singles);
      phase(
        `Ansible, throughput: ${cfg.ansibleRounds} round(s) over the same ${cfg.real} real sshd hosts, forks ${cfg.concurrency}`,
      );
      const runs: AnsibleRun[] = [];
      for (let r = 0; r < cfg.ansibleRounds; r++) {
        cleanup.check();
        runs.push(await runAnsible(setup, 'all', cfg.concurrency, `all-${r}`, 15 * 60_000));
      }
      ansible = summarizeAnsible(real.length, runs);
    }

    cleanup.check();
    const ratio = ansible ? round(oursReal.nodesPerSecond / ansible.nodesPerSecond, 1) : undefined;
    const ratioInproc = ansible ? round(oursInproc.nodesPerSecond / ansible.nodesPerSecond, 1) : undefined;
    const load1 = loadavg();
    const notes = [
      !cfg.ansible
        ? `Ansible was not run (--no-ansible); our collector ran on ${cfg.real} real OpenSSH sshd hosts and ${cfg.nodes} in-process ssh2 nodes.`
        : cfg.real >= cfg.nodes
          ? `Ours and Ansible ran on the same ${cfg.real} real OpenSSH sshd hosts (200 idle sshd processes are light enough for this 2-core machine); ours also ran alone on ${cfg.nodes} in-process ssh2 nodes.`
          : `Ours and Ansible were compared on the same ${cfg.real} real OpenSSH sshd hosts${cfg.real < 200 ? ` (--real ${cfg.real})` : ''}; ours alone also ran on ${cfg.nodes} in-process ssh2 nodes.`,
      startup.note,
      'Loopback: the "remote" side (sshd, our probe shell, Ansible\'s python module) runs on the same 2 cores as the collecting side, so throughput here is CPU-bound for both tools. What carries over to real nodes: the collecting side\'s CPU per node ("cpu ms/node") and the one-node latencies.',
      'Ansible\'s "cpu ms/node" counts ansible, its forks and the ssh clients it waited for; its ssh ControlPersist masters daemonize and are not counted, so it is a lower bound. Ours is this Node process.',
      'In-process nodes run their ssh2 servers inside the benchmark\'s Node process: that row\'s "cpu ms/node" includes the server side.',
      'Ansible was given its usual speed-ups: pipelining on and the python interpreter fixed (no discovery round trip); ControlPersist as by default. gather_subset=min still collects fewer facts than our probe (no disks, NICs, packages or supervisor services).',
      `Load on the machine (other work included) is recorded per phase in "phases"; it was ${load0[0]!.toFixed(2)} at the start and ${load1[0]!.toFixed(2)} at the end (1-minute average).`,
    ];
    const result = {
      schema: 'pitrix-bench/facts/v1',
      date: started.toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        loadavgStart: load0.map((x) => round(x, 2)),
        loadavgEnd: load1.map((x) => round(x, 2)),
        node: process.version,
        openssh: sshVersion(),
        sshd: versionOf(['dpkg-query', '-W', '-f=${Version}', 'openssh-server']),
        ansible: ansibleVersion ?? 'not run',
      },
      config: { ...cfg, shellStartup: startup.mode, ansibleSettings: ansibleSettings ?? null },
      results: {
        sshTrue: { realSshd: sshReal, inProcess: sshInproc },
        singleNode: { ours: singleOurs, ansible: singleAnsible ?? null },
        throughput: { oursInProcess: oursInproc, oursReal, ansibleReal: ansible ?? null },
        ratio: {
          oursOverAnsibleSameRealHosts: ratio ?? null,
          oursInProcessOverAnsible: ratioInproc ?? null,
          target: TARGET_RATIO,
          met: ratio === undefined ? null : ratio >= TARGET_RATIO,
        },
      },
      phases,
      notes,
    };

    const rows = [
      latencyRow('ssh host true (OpenSSH, curve25519), real sshd', cfg.real, sshReal),
      latencyRow('ssh host true (OpenSSH, curve25519), in-process', cfg.nodes, sshInproc),
      latencyRow('pitrix collector, 1 node at a time, real sshd', cfg.real, singleOurs),
      ...(singleAnsible
        ? [latencyRow('Ansible setup min, 1 host per run, real sshd', cfg.real, singleAnsible)]
        : []),
      throughputRow(oursReal),
      ...(ansible ? [throughputRow(ansible)] : []),
      throughputRow(oursInproc),
    ];
    const out: string[] = [
      '',
      `Node fact collection, ${started.toISOString()} — ${availableParallelism()} cores, load ${load0.map((x) => x.toFixed(2)).join(' ')} → ${load1.map((x) => x.toFixed(2)).join(' ')}`,
      `concurrency = Ansible forks = ${cfg.concurrency}; ours: ${cfg.rounds} round(s), Ansible: ${cfg.ansibleRounds}`,
      '',
      table(rows),
      '',
    ];
    if (ansible && ratio !== undefined) {
      out.push(
        `throughput ratio, same ${cfg.real} real sshd hosts: pitrix ${fmt(oursReal.nodesPerSecond)} / Ansible ${fmt(ansible.nodesPerSecond)} nodes/s = ${fmt(ratio)}×  (target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})`,
        `pitrix on ${cfg.nodes} in-process nodes: ${fmt(oursInproc.nodesPerSecond)} nodes/s (${fmt(ratioInproc)}× Ansible's real-sshd rate)`,
      );
    }
    out.push(
      `per-node median: pitrix ${fmt(oursReal.perNode.medianMs, 0)} ms under load, ${fmt(singleOurs.medianMs, 0)} ms alone; bare ssh true ${fmt(sshReal.medianMs, 0)} ms${singleAnsible && ansible ? `; Ansible ${fmt(ansible.perNode.medianMs, 0)} ms per host under load, ${fmt(singleAnsible.medianMs, 0)} ms for a one-host run` : ''}`,
      '',
      ...notes.map((n) => `note: ${n}`),
    );
    for (const [name, r] of [
      ['pitrix, real', oursReal],
      ['pitrix, in-process', oursInproc],
      ['Ansible', ansible],
    ] as const) {
      if (r?.errors.length) out.push(`ERRORS (${name}):`, ...r.errors.map((e) => `  ${e}`));
    }
    console.log(out.join('\n'));

    const outFile = resolve(values.out ?? join(ROOT, 'bench', 'results', 'latest.json'));
    mkdirSync(dirname(outFile), { recursive: true });
    const json = `${JSON.stringify(result, null, 2)}\n`;
    writeFileSync(outFile, json);
    const written = [outFile];
    log(`results written to ${relative(process.cwd(), outFile) || outFile}`);
    if (values.record) {
      const dated = join(ROOT, 'bench', 'results', `${started.toISOString().slice(0, 10)}.json`);
      writeFileSync(dated, json);
      written.push(dated);
      log(`recorded ${relative(process.cwd(), dated)}`);
    }
    await formatJson(written.filter((f) => f.startsWith(`${ROOT}/`)));
    const failed = oursReal.errors.length + oursInproc.errors.length + (ansible?.errors.length ?? 0) > 0;
    return failed ? 1 : 0;
  } finally {
    log('stopping every host and process the benchmark started');
    await cleanup.run();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (cleanup.interrupted) {
      process.stderr.write(`[bench] ${(err as Error).message}\n`);
      process.exit(cleanup.interrupted === 'SIGINT' ? 130 : 143);
    }
    process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
