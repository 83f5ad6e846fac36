/**
 * Runbook R3 step 1: remove BOSS V1 before BOSS V2 is deployed. Finds what V1 left (programs, nginx
 * site, boss.yaml*) and plans the steps that stop and remove it and point nf_server at the new
 * alert receiver.
 */
import { patternRegExp } from '../../api/patterns.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { sh } from '../../ssh/command.js';
import { type ComponentFacts, SERVER_YAML_DIR, zoneVariablesPath } from './observe.js';
import type { ComponentPlanInput } from './plan.js';
import { execNodes, fb, MIN, PlanError, verifyReached, writeFileStep } from './steps-common.js';
import { applySettings, type YamlSetting } from './yamledit.js';

/** BOSS V1 programs per node role, in the order R3 step 1 removes them. */
export const BOSS_V1_PROGRAMS: ReadonlyArray<readonly [role: string, programs: readonly string[]]> = [
  ['webservice', ['boss_collector', 'boss_aggregator', 'boss_aggregator_proxy']],
  ['boss', ['boss_hypervisor', 'boss_hypervisor_proxy', 'pitrix-boss-console']],
  ['hyper', ['boss_daemon']],
];
const V1_PROGRAM_SET = new Set(BOSS_V1_PROGRAMS.flatMap(([, p]) => p));
/** Roles BOSS V1 may be left on: its programs' roles, and the proxies (its nginx site). */
export const V1_ROLES: ReadonlySet<string> = new Set([...BOSS_V1_PROGRAMS.map(([role]) => role), 'proxy']);

/**
 * The section's steps by action; a step repeated per role, program, nginx directory or zone carries
 * it with its subject (`stopV1Program-webservice.boss_collector`). plan.ts keeps an unfinished
 * section in the plan by them.
 */
export const REMOVE_V1_ACTIONS = [
  'stopV1Program',
  'removeV1ProgramConf',
  'rereadSupervisor',
  'updateSupervisor',
  'removeV1NginxSite',
  'reloadNginx',
  'removeBossYaml',
  'setNfServerNotify',
] as const;

/** BOSS V1 as R3 step 1 finds it: its programs on any node, its nginx site, boss.yaml* files. */
export function bossV1Leftovers(facts: ComponentFacts): string[] {
  const out: string[] = [];
  for (const n of facts.nodes) {
    const o = facts.nodeObs[n.nodeId];
    for (const p of o?.programs ?? []) if (V1_PROGRAM_SET.has(p.name)) out.push(`${n.nodeId}: ${p.name}`);
    for (const f of o?.nginxBossSite ?? []) out.push(`${n.nodeId}: ${f}`);
  }
  for (const f of facts.bossYamlFiles) out.push(`firstbox: ${SERVER_YAML_DIR}/${f}`);
  return out;
}

export function removeV1Steps(input: ComponentPlanInput): Step[] {
  const { facts, zone } = input;
  const steps: Step[] = [];
  const nodesOf = (role: string) =>
    facts.nodes.filter((n) => n.roles.includes(role) && n.status === 'deployed').map((n) => n.nodeId);
  for (const [role, programs] of BOSS_V1_PROGRAMS) {
    const ids = nodesOf(role);
    if (ids.length === 0) continue;
    for (const p of programs)
      steps.push({
        ...forSubject('stopV1Program', `${role}.${p}`),
        description: `R3.1 stop BOSS V1 program ${p} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `supervisorctl stop ${p}`, `stop ${p}`),
        // `supervisorctl stop` of a program that is already gone fails on that node: fine here.
        acceptExitCodes: [0, 1],
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    for (const p of programs)
      steps.push({
        ...forSubject('removeV1ProgramConf', `${role}.${p}`),
        description: `R3.1 remove the supervisor config of ${p} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `rm -f /etc/supervisor/conf.d/${p}.conf`, `remove ${p}.conf`),
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    for (const [step, action] of [
      ['rereadSupervisor', 'reread'],
      ['updateSupervisor', 'update'],
    ] as const)
      steps.push({
        ...forSubject(step, role),
        description: `R3.1 supervisorctl ${action} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `supervisorctl ${action}`, `supervisorctl ${action}`),
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
  }
  const proxies = nodesOf('proxy');
  if (proxies.length > 0) {
    for (const dir of ['sites-enabled', 'sites-available'])
      steps.push({
        ...forSubject('removeV1NginxSite', dir),
        description: `R3.1 remove the BOSS V1 nginx site /etc/nginx/${dir}/boss.conf on proxy nodes`,
        host: fb,
        command: execNodes('proxy', `rm -f /etc/nginx/${dir}/boss.conf`, `remove ${dir}/boss.conf`),
        verify: verifyReached(proxies),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    steps.push({
      id: 'reloadNginx',
      description: 'R3.1 reload nginx on proxy nodes',
      host: fb,
      command: execNodes('proxy', 'service nginx reload', 'reload nginx'),
      verify: verifyReached(proxies),
      idempotent: true,
      timeoutMs: 10 * MIN,
    });
  }
  steps.push({
    id: 'removeBossYaml',
    description: `R3.1 remove ${SERVER_YAML_DIR}/boss.yaml*`,
    host: fb,
    command: sh('remove boss.yaml*')`rm -f ${SERVER_YAML_DIR}/boss.yaml*`,
    idempotent: true,
    timeoutMs: MIN,
  });
  const vip = proxyVip(input);
  if (!vip)
    throw new PlanError(
      'ProxyVipUnknown',
      `R3.1 needs the proxy VIP of zone ${zone.zoneId} for the nf_server webhook: it is neither proxy_vip in ${zoneVariablesPath(zone.zoneId)} on firstbox nor an address in the Zone's spec.proxyHost; set one`,
    );
  const settings: YamlSetting[] = [
    { path: ['nf_server', 'notify_settings', 'system', 'enable_save_notifylog'], value: false },
    {
      path: ['nf_server', 'notify_settings', 'system', 'notifylog_third_parties', 'webhook'],
      value: { type: 'webhook', url: `http://${vip}:6777/alert_receiver/nf/` },
    },
  ];
  const files = Object.keys(facts.files)
    .filter((p) => p.startsWith(`${SERVER_YAML_DIR}/server.yaml.`))
    .sort();
  if (files.length === 0)
    throw new PlanError(
      'ServerYamlMissing',
      `no ${SERVER_YAML_DIR}/server.yaml.* on firstbox to set the nf_server notify settings in (R3.1)`,
    );
  for (const path of files) {
    const suffix = path.slice(`${SERVER_YAML_DIR}/server.yaml.`.length);
    if (!patternRegExp('ZONE_ID').test(suffix)) continue;
    steps.push(
      writeFileStep(
        forSubject('setNfServerNotify', suffix),
        `R3.1 set nf_server notify settings (no notify log, webhook http://${vip}:6777/alert_receiver/nf/) in ${path}`,
        path,
        applySettings(facts.files[path], settings, path),
        facts.files[path] ?? null,
        settings.map((s) => s.path.join('.')),
        input.previous,
      ),
    );
  }
  return steps;
}

function proxyVip(input: ComponentPlanInput): string | undefined {
  const text = input.facts.files[zoneVariablesPath(input.zone.zoneId)];
  const m = text ? /^proxy_vip:\s*['"]?([0-9.]+)['"]?\s*$/m.exec(text) : null;
  if (m && patternRegExp('IPV4').test(m[1]!)) return m[1];
  const host = input.zone.proxyHost;
  return host && patternRegExp('IPV4').test(host) ? host : undefined;
}
