/**
 * `npm run demo`: a local control plane, the simulated platform, the operator, and the examples in
 * `examples/` converging, with progress on screen. One runbook at a time, each on its scenario:
 *
 *   npm run demo                     R4: the NodePool scale-out of two hypers (the README's demo)
 *   npm run demo -- --runbook r1     R1: the TagServer, the tag service and the tag migration
 *   npm run demo -- --runbook r3     R3: the Components cronus and BOSS V2, replacing BOSS V1
 *   npm run demo -- --runbook r5     R5: the WebserviceUpgrade of a sub zone's webservice VMs
 *   npm run demo -- --runbook all    all four, one after another, and a summary line for each
 *   npm run demo -- --keep           keep everything running afterwards (Ctrl-C stops it)
 *
 * Where a runbook waits for a person (a Manual approval, the account keys of R5, a prerequisite
 * the platform lacks), the demo prints what the operator asks for and the command it runs in the
 * person's place. The demo writes nothing under the repository: every file it makes is in $TMPDIR.
 */

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { MigrationResult } from '../src/api/tagserver.js';
import { maxDownAtOnce } from '../test/helpers/availability.js';
import { startOperator, waitUntil } from '../test/helpers/operator.js';
import { applyZone, type Scenario, startScenario } from '../test/helpers/scenario.js';
import { type ControlPlane, startControlPlane } from './controlplane.js';
import { type DemoArgs, parseDemoArgs, RUNBOOKS, type Runbook, usage } from './demo-args.js';
import { startPlatform } from './sim/platform.js';

const repoRoot = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => process.stdout.write(`${s}\n`);
const t0 = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const elapsed = () => seconds(Date.now() - t0).padStart(7);

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface Res {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    plan?: { hash: string; steps?: Array<{ id: string; state: string; host?: string; node?: string }> };
    currentStep?: string;
    nodesReady?: string;
    installerVersion?: string;
    nodes?: Array<{
      address?: string;
      name?: string;
      phase: string;
      holdsVip?: boolean;
      oldHostKey?: string;
      newHostKey?: string;
    }>;
    // TagServer
    migration?: Record<string, MigrationResult>;
    installedVersions?: Record<string, string>;
    // Component
    versions?: Record<string, string>;
    progress?: { status?: string; percent?: number } | string;
    defaultCredentials?: boolean;
    // Zone
    lock?: { operation?: string };
    // WebserviceUpgrade
    phase?: string;
    currentNode?: string;
  };
}

/** What one runbook's demo has to clean up, and what it prints for --keep. */
interface Ctx {
  cp: ControlPlane;
  args: DemoArgs;
  /** When this runbook's demo started (the program's start when it is the only one). */
  started: number;
  cleanups: Array<() => Promise<unknown>>;
  keep: string[];
}

const condition = (r: Res | undefined, type: string) => r?.status?.conditions?.find((c) => c.type === type);

async function main(): Promise<void> {
  const parsed = parseDemoArgs(process.argv.slice(2));
  if (parsed === 'help') {
    say(usage());
    return;
  }
  if ('error' in parsed) {
    process.stderr.write(`demo: ${parsed.error}\n\n${usage()}\n`);
    process.exit(2);
  }
  const args = parsed;

  say(bold('pitrix-operator demo'));
  say(`${elapsed()}  starting kube-apiserver + etcd (real binaries, see README for versions)…`);
  const cp = await startControlPlane();
  say(`${elapsed()}  control plane up in ${cp.startupMs} ms; CRDs applied from crds/`);

  // The running runbook's cleanups first, then those of the runbooks kept (--keep), latest first.
  let current: Ctx | undefined;
  const kept: Array<() => Promise<unknown>> = [];
  let cleaning = false;
  const cleanup = async () => {
    if (cleaning) return;
    cleaning = true;
    for (const c of [...(current?.cleanups ?? []), ...kept]) await c().catch(() => undefined);
    await cp.stop().catch(() => undefined);
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  const keep: string[] = [];
  const results: Array<{ runbook: Runbook; ms: number; outcome: string; ok: boolean }> = [];
  try {
    for (const runbook of args.runbooks) {
      const ctx: Ctx = { cp, args, started: args.all ? Date.now() : t0, cleanups: [], keep };
      current = ctx;
      if (args.all || runbook !== 'r4') {
        say('');
        say(bold(`== ${RUNBOOKS[runbook]}`));
      }
      try {
        const outcome = await RUNNERS[runbook](ctx);
        results.push({ runbook, ms: Date.now() - ctx.started, outcome, ok: true });
      } catch (err) {
        // One runbook failing does not hide the others' results; the exit code still says so.
        if (!args.all) throw err;
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`${runbook} failed: ${message}\n`);
        results.push({
          runbook,
          ms: Date.now() - ctx.started,
          outcome: `FAILED: ${message.split('\n')[0]}`,
          ok: false,
        });
      }
      // Without --keep each runbook's operator and platform stop before the next one starts.
      if (args.keep) kept.unshift(...ctx.cleanups);
      else for (const c of ctx.cleanups) await c().catch(() => undefined);
      current = undefined;
    }
    if (args.all) {
      say('');
      say(bold('Summary (--runbook all)'));
      for (const r of results)
        say(
          `  ${r.runbook}  ${r.ok ? 'converged' : 'failed   '} in ${seconds(r.ms).padStart(6)}  ${r.outcome}`,
        );
      say(bold(`All ${results.length} runbooks in ${elapsed().trim()}.`));
    }
    if (args.keep) {
      say(
        `\nKeeping everything running. Try:\n  export KUBECONFIG=${cp.kubeconfig}\n${keep.join('\n')}\nCtrl-C stops it.`,
      );
      await new Promise(() => {});
    }
    if (results.some((r) => !r.ok)) process.exitCode = 1;
  } catch (err) {
    // A failed demo leaves nothing running, --keep or not.
    await cleanup();
    throw err;
  }
  await cleanup();
}

const RUNNERS: Record<Runbook, (ctx: Ctx) => Promise<string>> = { r1, r3, r4, r5 };

// ---------------------------------------------------------------------------------------------
// What every runbook's demo does alike

/** Runs `kubectl` as the person watching would, showing the command first. */
async function asUser(ctx: Ctx, ns: string, kubectlArgs: string[], why: string): Promise<void> {
  say(`${elapsed()}  ${why}; in your place the demo runs:`);
  say(`           $ kubectl ${kubectlArgs.join(' ')} -n ${ns}`);
  await ctx.cp.kubectl([...kubectlArgs, '-n', ns]);
}

/** Words joined into lines of at most `width` characters. */
function wrap(words: string[], width = 96): string[] {
  const lines: string[] = [];
  for (const w of words) {
    const lastLine = lines.at(-1);
    if (lastLine !== undefined && lastLine.length + 1 + w.length <= width)
      lines[lines.length - 1] = `${lastLine} ${w}`;
    else lines.push(w);
  }
  return lines;
}

/** Prints a condition a person has to act on, wrapped under the time column. */
function gate(what: string, c: Condition | undefined): void {
  say(`${elapsed()}  ${bold(`waiting for you: ${what}`)}`);
  if (c) say(`           ${c.type}=${c.status} ${c.reason}: ${c.message}`);
}

type Objects = (kind: string, name: string) => Res | undefined;

/**
 * Polls the namespace's custom resources, prints a progress line whenever it changes, and returns
 * once `until` holds. On a timeout the error carries the last line and the operator's last logs.
 */
async function follow(
  ctx: Ctx,
  sc: Scenario,
  line: (get: Objects) => string,
  until: (get: Objects) => boolean,
  what: string,
): Promise<Objects> {
  let last = '';
  let get: Objects = () => undefined;
  await waitUntil(
    async () => {
      const list = JSON.parse(
        (
          await ctx.cp.kubectl([
            'get',
            'zones,components,tagservers,webserviceupgrades',
            '-n',
            sc.ns,
            '-o',
            'json',
          ])
        ).stdout,
      ) as { items: Res[] };
      get = (kind, name) => list.items.find((r) => r.kind === kind && r.metadata.name === name);
      const now = line(get);
      if (now !== last) {
        say(`${elapsed()}  ${now}`);
        last = now;
      }
      return until(get);
    },
    ctx.args.timeoutS * 1000,
    what,
  ).catch((err) => {
    throw new Error(
      `${(err as Error).message}\nlast seen: ${last}\noperator log tail:\n${sc.op.logs.slice(-12).join('\n')}`,
    );
  });
  return get;
}

/** `Kind name: 5/16 steps, stepId (Reason)`; `Kind name: Ready=True UpToDate` with no plan. */
function brief(r: Res | undefined, label: string): string {
  if (!r?.status) return `${label}: observing`;
  const ready = condition(r, 'Ready');
  const progressing = condition(r, 'Progressing');
  const degraded = condition(r, 'Degraded');
  const steps = r.status.plan?.steps ?? [];
  const done = steps.filter((s) => s.state === 'Succeeded' || s.state === 'Skipped').length;
  const settled = ready?.status === 'True';
  let text = `${label}: `;
  if (steps.length) {
    text += `${done}/${steps.length} steps`;
    if (!settled && r.status.currentStep) text += `, ${r.status.currentStep}`;
    const why = settled ? `Ready ${ready.reason}` : (progressing?.reason ?? ready?.reason);
    if (why) text += ` (${why})`;
  } else text += ready ? `Ready=${ready.status} ${ready.reason}` : 'observing';
  if (degraded?.status === 'True') text += ` | Degraded: ${degraded.reason}`;
  return text;
}

function zonesReady(get: Objects, zones: string[]): string {
  const ready = zones.filter((z) => condition(get('Zone', z), 'Ready')?.status === 'True');
  return zones.length === 1
    ? `Zone ${zones[0]}: ${ready.length ? 'Ready' : 'observing'}`
    : `Zones ${ready.length}/${zones.length} Ready`;
}

async function showPitrix(ctx: Ctx, ns: string): Promise<void> {
  say('');
  say(bold(`$ kubectl get pitrix -n ${ns}`));
  say((await ctx.cp.kubectl(['get', 'pitrix', '-n', ns])).stdout);
}

async function showSteps(ctx: Ctx, ns: string, kind: string, name: string): Promise<void> {
  say(
    bold(
      `$ kubectl get ${kind.toLowerCase()} ${name} -n ${ns} -o jsonpath='{.status.plan.steps}'   # the journal`,
    ),
  );
  const r = JSON.parse(
    (await ctx.cp.kubectl(['get', kind.toLowerCase(), name, '-n', ns, '-o', 'json'])).stdout,
  ) as Res;
  const steps = r.status?.plan?.steps ?? [];
  if (!steps.length) say('  (no plan left: nothing to do)');
  for (const s of steps) say(`  ${s.state.padEnd(10)} ${s.id.padEnd(40)} ${s.host ?? ''}`);
  say('');
}

async function showEvents(ctx: Ctx, ns: string, lines = 14): Promise<void> {
  say(bold(`$ kubectl get events -n ${ns} --sort-by=.lastTimestamp`));
  const out = (await ctx.cp.kubectl(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'])).stdout
    .trimEnd()
    .split('\n');
  // The header, then the latest events.
  say([out[0], ...out.slice(1).slice(-lines)].join('\n'));
  say('');
}

/** The simulated platform and the operator for one runbook, stopped with the runbook's cleanups. */
async function scenario(
  ctx: Ctx,
  file: string,
  ns: string,
  describe: string,
  subnet?: number,
): Promise<{ sc: Scenario; ssh: (command: string) => Promise<string> }> {
  say(
    `${elapsed()}  starting the simulated platform (examples/sim/${file}: ${describe}, each its own sshd) and the operator…`,
  );
  const sc = await startScenario(ctx.cp, file, {
    namespace: ns,
    ...(subnet !== undefined ? { subnet } : {}),
  });
  ctx.cleanups.unshift(() => sc.stop());
  say(
    `${elapsed()}  firstbox ${sc.sim.firstbox.address} (${sc.sim.firstbox.hostKeyFingerprint}); namespace ${ns}`,
  );
  say(
    `${elapsed()}  operator ready (pitrix-operator run --namespace ${ns}); metrics on http://127.0.0.1:${sc.op.metricsPort}/metrics`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'pitrix-demo-'));
  await writeFile(join(dir, 'known_hosts'), sc.sim.knownHosts());
  const sshArgs = [
    '-i',
    sc.sim.clientKey.privateKeyPath,
    '-o',
    `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    '-p',
    String(sc.sim.firstbox.port),
    `root@${sc.sim.firstbox.address}`,
  ];
  ctx.keep.push(`  kubectl get pitrix -n ${ns}`, `  ssh ${sshArgs.join(' ').replace(/ -p 22 /, ' ')}`);
  const ssh = async (command: string) =>
    (await run('ssh', ['-o', 'BatchMode=yes', ...sshArgs, command], { timeout: 60_000 })).stdout;
  return { sc, ssh };
}

/** The Secret and Zone objects for the scenario's firstbox, as examples/zone-*.yaml describe them. */
async function zones(ctx: Ctx, sc: Scenario, list: Array<[string, Record<string, unknown>]>): Promise<void> {
  for (const [z, extra] of list) await applyZone(sc, z, z, extra);
  say(
    `${elapsed()}  applied Secret firstbox-ssh (labelled ops.pitrix.io/credentials=true) and Zone ${list.map(([z, e]) => (e.global ? `${z} (global)` : z)).join(', ')}, pinned to the firstbox's host key (spec.firstbox.hostKeys)`,
  );
  await follow(
    ctx,
    sc,
    (get) =>
      zonesReady(
        get,
        list.map(([z]) => z),
      ),
    (get) => list.every(([z]) => condition(get('Zone', z), 'Ready')?.status === 'True'),
    'the Zones to be Ready',
  );
}

/** An example manifest, as `kubectl apply -f` would read it. */
async function example(file: string): Promise<Res> {
  return parse(await readFile(join(repoRoot, file), 'utf8')) as Res;
}

// ---------------------------------------------------------------------------------------------
// R1: the global tag service and the tag migration (docs/tagserver.md)

async function r1(ctx: Ctx): Promise<string> {
  const ns = 'pitrix-demo-r1';
  const { sc } = await scenario(
    ctx,
    'region.yaml',
    ns,
    'firstbox, global zone pek3a, sub zones pek3b and pek3c, 14 nodes',
  );
  await zones(ctx, sc, [
    ['pek3a', { global: true, regionId: 'pek3' }],
    ['pek3b', { regionId: 'pek3' }],
    ['pek3c', { regionId: 'pek3' }],
  ]);
  await ctx.cp.kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples/tagserver.yaml')]);
  say(
    `${elapsed()}  kubectl apply -f examples/tagserver.yaml   # tag service for region pek3, migrate pek3a then pek3b`,
  );
  say(
    `${elapsed()}  no approval set (Automatic): the plan runs once computed; approval: Manual would wait for ops.pitrix.io/approve-plan=HASH`,
  );

  const migrated = (r: Res | undefined) =>
    Object.entries(r?.status?.migration ?? {})
      .map(([z, m]) =>
        m.inserted === undefined
          ? `${z} ${m.totalCount ?? '?'} tag(s) to migrate`
          : `${z} ${m.inserted} inserted${m.warnings ? ` + ${m.warnings} warning(s)` : ''} of ${m.totalCount}${m.verified ? ', verified' : ''}`,
      )
      .join('; ');
  await follow(
    ctx,
    sc,
    (get) => {
      const ts = get('TagServer', 'tags');
      const m = migrated(ts);
      return `${zonesReady(get, ['pek3a', 'pek3b', 'pek3c'])} | ${brief(ts, 'TagServer tags')}${m ? ` | tags: ${m}` : ''}`;
    },
    (get) => condition(get('TagServer', 'tags'), 'Ready')?.status === 'True',
    'TagServer tags to be Ready',
  );

  await showPitrix(ctx, ns);
  await showSteps(ctx, ns, 'TagServer', 'tags');
  const ts = await sc.get('tagserver', 'tags');
  const status = ts.status as Res['status'];
  say(bold(`$ kubectl get tagserver tags -n ${ns} -o jsonpath='{.status.migration}'`));
  for (const [z, m] of Object.entries(status?.migration ?? {}))
    say(
      `  ${z}: ${m.totalCount} tag(s), ${m.inserted} inserted, ${m.warnings} warning(s) (${m.predictedWarnings ?? '?'} predicted), ${m.errors} error(s), update pass inserted ${m.updatePassInserted ?? '-'}, ${m.verified ? 'verified' : 'NOT verified'}`,
    );
  say(
    `  installed: ${Object.entries(status?.installedVersions ?? {})
      .map(([p, v]) => `${p} ${v}`)
      .join(', ')}`,
  );
  say('');
  await showEvents(ctx, ns);

  const withPackage = async (pkg: string) => {
    const hosts: string[] = [];
    for (const n of sc.sim.nodes) if ((await sc.sim.state(n.id)).packages[pkg]) hosts.push(n.id);
    return hosts;
  };
  const servers = await withPackage('pitrix-ks-tag-server');
  const proxies = await withPackage('pitrix-ks-proxy-tag');
  const rows = Object.values((await sc.sim.tagDb()).migrated).length;
  say(
    `On the simulated platform: the tag server runs on ${servers.join(', ')}, the tag proxy on ${proxies.join(', ')}; the global tag database holds ${rows} migrated tag(s).`,
  );
  say('More: docs/tagserver.md; a second apply of the same TagServer builds and migrates nothing.');
  say(bold(`Converged in ${seconds(Date.now() - ctx.started)}.`));
  const total = Object.values(status?.migration ?? {}).reduce((n, m) => n + (m.totalCount ?? 0), 0);
  return `TagServer tags Ready: tag server on ${servers.length} node(s), tag proxy on ${proxies.length}, ${total} tag(s) of ${Object.keys(status?.migration ?? {}).join(', ')} migrated and verified`;
}

// ---------------------------------------------------------------------------------------------
// R3: BOSS V2, after cronus, replacing BOSS V1 (docs/component.md)

async function r3(ctx: Ctx): Promise<string> {
  const ns = 'pitrix-demo-r3';
  const { sc, ssh } = await scenario(
    ctx,
    'boss-v1.yaml',
    ns,
    'global zone gd2a with BOSS V1, installer 4.4.0, a zoocassa node on Ubuntu 14.04.4, 7 nodes',
  );
  await zones(ctx, sc, [['gd2a', { global: true }]]);

  // The examples name the Zone pek3a of examples/zone-global.yaml; this scenario's zone is gd2a.
  const apply = async (file: string) => {
    const obj = await example(file);
    (obj.spec!.zoneRef as { name: string }).name = 'gd2a';
    await sc.apply(obj);
    say(`${elapsed()}  kubectl apply -f ${file}   # with spec.zoneRef.name gd2a, this scenario's zone`);
    return obj.metadata.name;
  };
  const boss = await apply('examples/component-boss.yaml');
  const progress = (r: Res | undefined) => {
    const p = r?.status?.progress;
    return p && typeof p === 'object' && p.percent !== undefined && condition(r, 'Ready')?.status !== 'True'
      ? ` deploy ${p.percent}%`
      : '';
  };
  const line = (get: Objects) =>
    [
      zonesReady(get, ['gd2a']),
      brief(get('Component', 'pek3a-cronus'), 'cronus'),
      `${brief(get('Component', boss), 'boss')}${progress(get('Component', boss))}`,
    ].join(' | ');

  // Prerequisites: nothing runs while one fails, each a condition of its own.
  let get = await follow(
    ctx,
    sc,
    line,
    (g) =>
      condition(g('Component', boss), 'CronusReady')?.status === 'False' &&
      condition(g('Component', boss), 'ZoocassaOsSupported')?.status === 'False',
    'the BOSS prerequisites to be reported',
  );
  say(
    `${elapsed()}  BOSS V2 waits for its prerequisites (R3); nothing runs on the platform while one fails:`,
  );
  for (const t of ['InstallerSupported', 'ZoneEligible', 'CronusReady', 'ZoocassaOsSupported']) {
    const c = condition(get('Component', boss), t);
    if (c) say(`           ${c.type}=${c.status}${c.status === 'False' ? ` ${c.reason}: ${c.message}` : ''}`);
  }
  say(`${elapsed()}  R3: cronus is deployed before BOSS V2, through the same component mechanism`);
  await apply('examples/component-cronus.yaml');
  gate(
    'a zoocassa node on Ubuntu 14.04.4 needs installer 4.4.3 for BOSS V2',
    condition(get('Component', boss), 'ZoocassaOsSupported'),
  );
  say(
    `${elapsed()}  in your place the demo upgrades the installer to 4.4.3 (on the simulated firstbox: /pitrix/VERSION); upgrading the zoocassa node to Ubuntu 14.04.5 would do too`,
  );
  await sc.sim.mutate('firstbox', (s) => {
    s.firstbox!.installerVersion = '4.4.3';
  });
  await sc.sim.writeFile('firstbox', 'pitrix/VERSION', '4.4.3\n');

  // Once cronus is Ready the BOSS prerequisites hold; its plan waits for approval (approval:
  // Manual). spec.config is planned only once BOSS V2 is installed (its boss2.yaml exists): a
  // second plan, approved by its own hash.
  const approved: string[] = [];
  for (;;) {
    get = await follow(
      ctx,
      sc,
      line,
      (g) => {
        const b = g('Component', boss);
        const waiting = condition(b, 'Progressing')?.reason === 'AwaitingApproval';
        if (waiting) return !approved.includes(b?.status?.plan?.hash ?? '');
        return (
          condition(b, 'Ready')?.status === 'True' && condition(b, 'DefaultCredentials')?.status === 'True'
        );
      },
      approved.length ? 'BOSS V2 to be Ready' : 'the BOSS plan to await approval',
    );
    const b = get('Component', boss)!;
    if (condition(b, 'Progressing')?.reason !== 'AwaitingApproval') break;
    const plan = b.status!.plan!;
    gate(
      approved.length
        ? 'another plan: spec.config.boss2 is planned once BOSS V2 is installed (its boss2.yaml exists)'
        : 'examples/component-boss.yaml has approval: Manual',
      condition(b, 'Progressing'),
    );
    const steps = plan.steps ?? [];
    say(`           review it: kubectl pitrix plan component/${boss} -n ${ns}; its ${steps.length} steps:`);
    for (const l of wrap(steps.map((s) => s.id))) say(`             ${l}`);
    await asUser(
      ctx,
      ns,
      ['annotate', 'component', boss, `ops.pitrix.io/approve-plan=${plan.hash}`, '--overwrite'],
      'an approval is for exactly this plan (its hash)',
    );
    approved.push(plan.hash);
  }
  const defaults = condition(get('Component', boss), 'DefaultCredentials');
  gate('BOSS V2 is Ready, and its built-in account still has the default password', defaults);
  say(
    '           Ready stays True; the Warning Event and pitrix_component_default_credentials=1 stay until it changes.',
  );
  // What the condition's message offers besides the console, on the first boss node as R3 runs django_manage.sh.
  const account = /account (\S+@\S+) /.exec(defaults?.message ?? '')?.[1] ?? `boss@${sc.sim.scenario.domain}`;
  const change = `. /pitrix/conf/nodes/boss && /pitrix/upgrade/exec_nodes.sh "\${nodes[0]}" /pitrix/bin/boss2-manager/django_manage.sh change_password ${account}`;
  say(`${elapsed()}  in your place the demo changes it on the first boss node, from the firstbox:`);
  say(`           $ ssh root@${sc.sim.firstbox.address} '${change}'`);
  for (const l of (await ssh(change)).trim().split('\n')) say(`           ${l}`);
  say(`${elapsed()}  the next health check (spec.healthCheckInterval, 1m by default) sees the change`);
  await follow(
    ctx,
    sc,
    line,
    (g) => condition(g('Component', boss), 'DefaultCredentials')?.status === 'False',
    'DefaultCredentials=False',
  );

  await showPitrix(ctx, ns);
  await showSteps(ctx, ns, 'Component', boss);
  if (approved.length > 1)
    say(
      `  (the journal holds the latest plan, ${approved.at(-1)}; the plans before it, ${approved.slice(0, -1).join(', ')}, are in their PlanCompleted Events)\n`,
    );
  const final = (await sc.get('component', boss)).status as Res['status'];
  say(bold(`$ kubectl get component ${boss} -n ${ns} -o jsonpath='{.status.versions}'`));
  say(
    `  ${Object.entries(final?.versions ?? {})
      .map(([p, v]) => `${p} ${v}`)
      .join(', ')}`,
  );
  say('');
  await showEvents(ctx, ns);
  const db = await sc.sim.boss();
  const v1Left: string[] = [];
  for (const n of sc.sim.nodes)
    for (const p of Object.keys((await sc.sim.state(n.id)).supervisor.programs))
      if (p.startsWith('boss_') || p === 'pitrix-boss-console') v1Left.push(`${n.id}:${p}`);
  say(
    `On the simulated platform: BOSS V1 programs left: ${v1Left.length ? v1Left.join(', ') : 'none'}; BOSS V2 deployed: ${db.v2Deployed}, cronus deployed: ${db.cronusDeployed}, healthy: ${db.healthy}.`,
  );
  say('More: docs/component.md (config changes rebuild one package; upgrades follow the R3 sequence).');
  say(bold(`Converged in ${seconds(Date.now() - ctx.started)}.`));
  return `Components pek3a-cronus and ${boss} Ready: BOSS V1 removed, BOSS V2 ${final?.versions?.['pitrix-ks-boss2'] ?? ''} deployed and configured, ${approved.length} plan(s) approved, default password changed`;
}

// ---------------------------------------------------------------------------------------------
// R4: the NodePool scale-out, the README's demo (its output must stay as the README shows it)

async function r4(ctx: Ctx): Promise<string> {
  const { cp } = ctx;
  const ns = 'pitrix-demo';
  say(
    `${elapsed()}  starting the simulated platform (examples/sim/standard.yaml: firstbox + 6 nodes + 2 spare machines, each its own sshd)…`,
  );
  const sim = await startPlatform({ scenario: join(repoRoot, 'examples/sim/standard.yaml') });
  ctx.cleanups.unshift(() => sim.stop());
  say(
    `${elapsed()}  firstbox ${sim.firstbox.address} (${sim.firstbox.hostKeyFingerprint}); spare machines ${sim.spare.map((s) => s.address).join(', ')}`,
  );

  await cp.kubectl(['create', 'namespace', ns]);
  // The control plane goes on to the next runbook (--runbook all): this one's namespace goes.
  if (ctx.args.all && !ctx.args.keep)
    ctx.cleanups.push(() => cp.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true }));
  // The Secrets a user would create from files: the operator's SSH key and the firstbox host key.
  const dir = await mkdtemp(join(tmpdir(), 'pitrix-demo-'));
  await writeFile(join(dir, 'known_hosts'), `${sim.firstbox.knownHostsLine}\n`);
  await cp.kubectl([
    'create',
    'secret',
    'generic',
    'firstbox-ssh',
    '-n',
    ns,
    '--type=kubernetes.io/ssh-auth',
    `--from-file=ssh-privatekey=${sim.clientKey.privateKeyPath}`,
  ]);
  await cp.kubectl([
    'create',
    'secret',
    'generic',
    'firstbox-known-hosts',
    '-n',
    ns,
    `--from-file=known_hosts=${join(dir, 'known_hosts')}`,
  ]);
  // Consent: the operator reads only Secrets labelled for it (controllers/consent.ts).
  for (const secret of ['firstbox-ssh', 'firstbox-known-hosts'])
    await cp.kubectl(['label', 'secret', secret, '-n', ns, 'ops.pitrix.io/credentials=true']);
  const manifests = [
    'examples/secret-node-credentials.yaml',
    'examples/zone-global.yaml',
    'examples/nodepool-hyper.yaml',
  ];
  for (const m of manifests) {
    await cp.kubectl(['apply', '-n', ns, '-f', join(repoRoot, m)]);
    say(`${elapsed()}  kubectl apply -f ${m}`);
  }

  say(`${elapsed()}  starting the operator (pitrix-operator run, leader election on)…`);
  const op = await startOperator(cp.kubeconfig, ['--namespace', ns, '--leader-election-namespace', ns]);
  ctx.cleanups.unshift(() => op.stop());
  say(`${elapsed()}  operator ready; metrics on http://127.0.0.1:${op.metricsPort}/metrics`);

  let last = '';
  await waitUntil(
    async () => {
      const zone = JSON.parse(
        (await cp.kubectl(['get', 'zone', 'pek3a', '-n', ns, '-o', 'json'])).stdout,
      ) as Res;
      const pool = JSON.parse(
        (await cp.kubectl(['get', 'nodepool', 'pek3a-hyper', '-n', ns, '-o', 'json'])).stdout,
      ) as Res;
      const line = progressLine(zone, pool);
      if (line !== last) {
        say(`${elapsed()}  ${line}`);
        last = line;
      }
      const ready = pool.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && pool.status?.nodes?.every((n) => n.phase === 'Deployed') === true;
    },
    ctx.args.timeoutS * 1000,
    'the examples to converge',
  );
  say('');
  say(bold('$ kubectl get pitrix'));
  say((await cp.kubectl(['get', 'pitrix', '-n', ns])).stdout);
  say(bold('$ kubectl get nodepool pek3a-hyper -o jsonpath=…steps'));
  const pool = JSON.parse(
    (await cp.kubectl(['get', 'nodepool', 'pek3a-hyper', '-n', ns, '-o', 'json'])).stdout,
  ) as Res;
  for (const s of pool.status?.plan?.steps ?? [])
    say(`  ${s.state.padEnd(10)} ${s.id.padEnd(40)} ${s.host ?? ''}`);
  say('');
  say(bold('$ kubectl get events'));
  say(
    (await cp.kubectl(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'])).stdout
      .split('\n')
      .slice(-14)
      .join('\n'),
  );
  const scaled = (await sim.commandLog(sim.firstbox.id)).filter((e) =>
    /scale-qingcloud\.py -z/.test(e.command),
  ).length;
  say(
    `On the simulated firstbox, scale-qingcloud.py ran ${scaled} time(s); the new nodes now run their services.`,
  );
  say(bold(`Converged in ${seconds(Date.now() - ctx.started)}.`));
  ctx.keep.push(
    `  kubectl get pitrix -n ${ns}`,
    `  ssh -i ${sim.clientKey.privateKeyPath} -o UserKnownHostsFile=${join(dir, 'known_hosts')} root@${sim.firstbox.address}`,
  );
  return `NodePool pek3a-hyper Ready: ${pool.status?.nodesReady ?? '?'} new hyper nodes deployed, scale-qingcloud.py ran ${scaled} time(s)`;
}

function progressLine(zone: Res, pool: Res): string {
  const zr = zone.status?.conditions?.find((c) => c.type === 'Ready');
  const zonePart = `Zone pek3a: ${zr ? `Ready=${zr.status}` : 'observing'}${zone.status?.installerVersion ? ` installer ${zone.status.installerVersion}` : ''}`;
  const steps = pool.status?.plan?.steps ?? [];
  const done = steps.filter((s) => s.state === 'Succeeded').length;
  const pr = pool.status?.conditions?.find((c) => c.type === 'Progressing');
  const pd = pool.status?.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True');
  const poolPart = steps.length
    ? `NodePool pek3a-hyper: ${done}/${steps.length} steps${pool.status?.currentStep ? `, ${pool.status.currentStep}` : ''}${pr ? ` (${pr.reason})` : ''}`
    : 'NodePool pek3a-hyper: observing';
  return `${zonePart} | ${poolPart}${pd ? ` | Degraded: ${pd.message}` : ''} | nodes ${pool.status?.nodesReady ?? '-'}`;
}

// ---------------------------------------------------------------------------------------------
// R5: rebuild a sub zone's webservice VMs one at a time, the VIP holder last (docs/webserviceupgrade.md)

async function r5(ctx: Ctx): Promise<string> {
  const ns = 'pitrix-demo-r5';
  // region.yaml on its own subnet, so that it can run beside R1's copy (--runbook all --keep).
  const { sc } = await scenario(
    ctx,
    'region.yaml',
    ns,
    'firstbox, global zone pek3a, sub zone pek3b with 3 webservice VMs, 14 nodes, on 127.77.5.0/24',
    5,
  );
  await zones(ctx, sc, [
    ['pek3a', { global: true, regionId: 'pek3' }],
    ['pek3b', { regionId: 'pek3' }],
  ]);
  const wsu = await example('examples/webservice-upgrade.yaml');
  const name = wsu.metadata.name;
  const target = wsu.spec!.target as { baseImage: string; repository: string };
  say(
    `${elapsed()}  R5 prepares on the firstbox in advance ${target.baseImage} and ${target.repository}; the demo writes them on the simulated firstbox`,
  );
  await sc.sim.writeFile('firstbox', target.baseImage.slice(1), 'base image bionic\n');
  await sc.sim.writeFile('firstbox', `${target.repository.slice(1)}/Packages`, 'Package: pitrix-node-base\n');
  // Without temporary addresses each node keeps its own (the old VM is off before the new one
  // launches), and there is no address to switch back by hand afterwards.
  delete wsu.spec!.temporaryAddresses;
  await sc.apply(wsu);
  say(
    `${elapsed()}  kubectl apply -f examples/webservice-upgrade.yaml   # without spec.temporaryAddresses: each node keeps its address`,
  );

  // Each node's rebuild as the journal shows it: its steps all done, one of them running, or none
  // started. (status.nodes and status.progress are written when a run of steps returns.)
  const nodesOf = (r: Res | undefined) => {
    const steps = r?.status?.plan?.steps ?? [];
    return (r?.status?.nodes ?? [])
      .map((n) => {
        const own = steps.filter((s) => s.node === n.name);
        const done = own.length > 0 && own.every((s) => s.state === 'Succeeded' || s.state === 'Skipped');
        const started = own.some((s) => s.state !== 'Pending');
        return `${n.name}${n.holdsVip ? '(VIP)' : ''} ${done ? 'rebuilt' : started ? 'rebuilding' : 'pending'}`;
      })
      .join(', ');
  };
  const line = (get: Objects) => {
    const r = get('WebserviceUpgrade', name);
    const nodes = nodesOf(r);
    const lock = get('Zone', 'pek3b')?.status?.lock?.operation;
    return `${zonesReady(get, ['pek3a', 'pek3b'])}${lock ? ` (pek3b lock ${lock})` : ''} | ${brief(r, `WebserviceUpgrade ${name}`)}${nodes ? ` | ${nodes}` : ''}`;
  };
  const get = await follow(
    ctx,
    sc,
    line,
    (g) => condition(g('WebserviceUpgrade', name), 'Progressing')?.reason === 'KeysRefreshRequired',
    'the upgrade to ask for the account keys',
  );
  gate(
    'R5 refreshes keys from the account database, and the runbook does not say how',
    condition(get('WebserviceUpgrade', name), 'Progressing'),
  );
  say(
    '           no node has gone down yet. The simulated platform has no account database: there is no file to update.',
  );
  await asUser(
    ctx,
    ns,
    ['annotate', 'webserviceupgrade', name, 'ops.pitrix.io/keys-refreshed=true'],
    'once the key files are updated, you confirm it',
  );
  await follow(
    ctx,
    sc,
    line,
    (g) => condition(g('WebserviceUpgrade', name), 'Ready')?.status === 'True',
    `WebserviceUpgrade ${name} to be Ready`,
  );

  await showPitrix(ctx, ns);
  await showSteps(ctx, ns, 'WebserviceUpgrade', name);
  const final = (await sc.get('webserviceupgrade', name)).status as Res['status'];
  say(bold(`$ kubectl get webserviceupgrade ${name} -n ${ns} -o jsonpath='{.status.nodes}'`));
  for (const n of final?.nodes ?? [])
    say(
      `  ${(n.name ?? '').padEnd(15)} ${n.phase.padEnd(10)} ${n.holdsVip ? 'VIP holder' : '          '}  host key ${n.oldHostKey} -> ${n.newHostKey}`,
    );
  say('');
  await showEvents(ctx, ns);
  const ids = (final?.nodes ?? []).map((n) => n.name!);
  const os: string[] = [];
  for (const id of ids) os.push(`${id} ${(await sc.sim.state(id)).facts.os.version}`);
  const down = maxDownAtOnce(await sc.sim.timeline(), ids);
  say(`On the simulated platform: ${os.join(', ')}; at most ${down} webservice node(s) down at once.`);
  const lock = (await sc.get('zone', 'pek3b')).status?.lock as { operation?: string } | undefined;
  if (lock?.operation)
    say(
      `Zone pek3b still shows lock ${lock.operation}: its holder has finished, so another operation may take it (src/controllers/zonelock.ts); it is cleared at the upgrade's next reconcile (within 10 min).`,
    );
  say(
    'More: docs/webserviceupgrade.md (health gate, rollback with ops.pitrix.io/rollback-node, the window).',
  );
  say(bold(`Converged in ${seconds(Date.now() - ctx.started)}.`));
  return `WebserviceUpgrade ${name} Ready: ${final?.progress ?? '?'} nodes of pek3b rebuilt on Ubuntu 18.04, one at a time (max ${down} down), the VIP holder last`;
}

main().catch(async (err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
