import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../api/common.js';
import { ComponentSpec } from '../../api/component.js';
import type { Step } from '../../runbook/step.js';
import { sha256 } from '../filewrite.js';
import { type ComponentFacts, parseBossVersions, parseJobStatus, parseObservation } from './observe.js';
import { type ComponentPlanInput, planComponent } from './plan.js';
import { applySettings, flattenOverrides, settingsHold } from './yamledit.js';

/** Real output of the observation script against the simulator's boss-v1 scenario (zone gd2a). */
const BOSS_V1 = readFileSync(new URL('__fixtures__/boss-v1.observe.txt', import.meta.url), 'utf8');
const SERVER = '/pitrix/conf/variables/global/server.yaml.gd2a';

function facts(mutate: (f: ComponentFacts) => void = () => {}): ComponentFacts {
  const f = parseObservation(BOSS_V1);
  mutate(f);
  return f;
}

function input(
  over: Partial<Omit<ComponentPlanInput, 'spec'>> & { spec?: Record<string, unknown> } = {},
): ComponentPlanInput {
  const { spec, ...rest } = over;
  return {
    spec: ComponentSpec.parse({ zoneRef: { name: 'gd2a' }, name: 'boss', ...spec }),
    zone: { zoneId: 'gd2a', mode: 'standard', global: true, proxyHost: '127.77.4.5' },
    facts: facts((f) => {
      f.installerVersion = '4.4.3';
    }),
    cronusReady: true,
    ...rest,
  };
}

/** BOSS V2 installed on boss1, healthy, nothing left of V1. */
function deployed(f: ComponentFacts): void {
  f.installerVersion = '4.4.3';
  for (const o of Object.values(f.nodeObs))
    o.programs = (o.programs ?? []).filter(
      (p) => !p.name.startsWith('boss_') && p.name !== 'pitrix-boss-console',
    );
  f.nodeObs.proxy1!.nginxBossSite = [];
  f.bossYamlFiles = [];
  Object.assign(f.nodeObs.boss1!.packages, {
    'pitrix-ks-boss2': '4.4.3-1',
    'pitrix-ks-boss2-console': '4.4.3-1',
    'pitrix-ks-boss2-conf': '4.4.3-1',
    'pitrix-transit-upload-server': '4.4.3-1',
  });
  f.health = { exitCode: 0, output: 'ok' };
  f.versions = {
    exitCode: 0,
    output:
      'pitrix-ks-boss2 4.4.3-1\npitrix-ks-boss2-console 4.4.3-1\npitrix-ks-boss2-conf 4.4.3-1\npitrix-transit-upload-server 4.4.3-1',
  };
  f.password = { exitCode: 0, output: 'boss@gd2.qingcloud.local: default password ACCEPTED' };
  f.files['/pitrix/conf/variables/boss2/boss2.yaml.gd2a'] =
    '# boss2 backend\nboss2:\n  debug: false\n  workers: 4\n';
}

/** The runbook command a step runs: the guarded job's own command line, or the step's command. */
function runbookCommand(s: Step): string {
  if (!s.job) return s.command.script;
  const m = / run \S+ \S+ '([^']*)'$/.exec(s.command.script);
  if (!m) throw new Error(`${s.id}: not a guarded run: ${s.command.script}`);
  return m[1]!;
}

function render(r: ReturnType<typeof planComponent>): string {
  const steps = r.plan.steps
    .map(
      (s) => `${s.id} @${s.host.kind}\n  ${s.command.script}${s.check ? `\n  check: ${s.check.script}` : ''}`,
    )
    .join('\n');
  return `hash ${r.plan.hash}\n${steps}\n`;
}

describe('observation parser', () => {
  it('reads nodes, BOSS V1 leftovers, OS, files and the repository from real simulator output', () => {
    const f = parseObservation(BOSS_V1);
    expect(f.installerVersion).toBe('4.4.0');
    expect(f.nodes.map((n) => n.nodeId)).toEqual([
      'webservice1',
      'webservice2',
      'proxy1',
      'boss1',
      'zoocassa1',
      'hyper1',
      'hyper2',
    ]);
    expect(f.nodeObs.zoocassa1?.osVersion).toBe('14.04.4');
    expect(f.nodeObs.proxy1?.nginxBossSite).toHaveLength(2);
    expect(f.bossYamlFiles).toEqual(['boss.yaml.gd2a']);
    expect(Object.keys(f.files)).toContain(SERVER);
    expect(f.health?.exitCode).toBe(1);
    expect(f.health?.output).toMatch(/not deployed/);
    expect(f.problems).toEqual([]);
  });

  it('reads the status tool tolerantly, for display only: unrecognised answers show nothing', () => {
    expect(
      parseJobStatus('{"job_id":"j-1","status":"running","progress":140,"step":"install on boss1"}\n'),
    ).toEqual({ jobId: 'j-1', status: 'running', progress: 100, step: 'install on boss1' });
    // No job id, warnings around it: the status is still shown.
    expect(parseJobStatus('WARNING: deprecated\n{"status": "successful"}\n')).toEqual({
      status: 'successful',
    });
    for (const text of [
      '',
      'usage: get-deploy-qingcloud-component-status.py [-h]',
      'JOB_ID  STATUS   PROGRESS\nj-1     running  40',
      '{"job_id": "j-1"}',
      '{not json',
      '[{"status":"running"}]',
    ])
      expect(parseJobStatus(text)).toBeUndefined();
  });

  it('parses django_manage.sh versions', () => {
    expect(parseBossVersions('pitrix-ks-boss2 4.6.2-1\npitrix-ks-boss2-conf none\n')).toEqual({
      'pitrix-ks-boss2': '4.6.2-1',
    });
  });

  it('marks a node whose exec_nodes block is a refused connection as unreachable', () => {
    const out = BOSS_V1.replace(
      /==== hyper2 \((\S+)\) ====\n[\s\S]*?(?=exec_nodes: )/,
      '==== hyper2 ($1) ====\nssh: connect to host $1 port 22: Connection refused\n',
    );
    const f = parseObservation(out);
    expect(f.nodeObs.hyper2?.reached).toBe(false);
    expect(f.nodeObs.hyper2?.error).toMatch(/Connection refused/);
  });
});

describe('YAML edits', () => {
  const text = '# head comment\na:\n  b: 1 # keep me\n  c: [1, 2]\nd: x\n';
  it('sets key paths and keeps every other key and comment', () => {
    const out = applySettings(text, flattenOverrides({ a: { b: 2, e: { f: true } } }, 'x'), 'f');
    expect(out).toContain('# head comment');
    expect(out).toContain('# keep me');
    expect(out).toMatch(/b: 2/);
    expect(out).toMatch(/c: \[ 1, 2 \]|c: \[1, 2\]/);
    expect(out).toMatch(/d: x/);
    expect(settingsHold(out, flattenOverrides({ 'a.b': 2, 'a.e.f': true }, 'x'))).toBe(true);
    expect(settingsHold(text, flattenOverrides({ 'a.b': 2 }, 'x'))).toBe(false);
  });
  it('is idempotent, so a re-computed plan keeps its hash', () => {
    const s = flattenOverrides({ a: { b: 2 }, g: 'h' }, 'x');
    const once = applySettings(text, s, 'f');
    expect(applySettings(once, s, 'f')).toBe(once);
  });
  it('refuses keys that are not key paths', () => {
    expect(() => flattenOverrides({ 'a b': 1 }, 'spec.config.boss2')).toThrow(/spec.config.boss2/);
  });
});

describe('R3 prerequisites', () => {
  it('refuses installer 4.2 with a condition naming it', () => {
    const r = planComponent(
      input({
        facts: facts((f) => {
          f.installerVersion = '4.2.0';
        }),
      }),
    );
    expect(r.prerequisites.find((p) => p.type === 'InstallerSupported')).toMatchObject({
      ok: false,
      reason: 'InstallerTooOld',
    });
    expect(r.plan.steps).toEqual([]);
  });
  it('refuses a zoocassa node on 14.04.4 with installer 4.4.0, accepts it with 4.4.3', () => {
    const old = planComponent(input({ facts: facts() }));
    const p = old.prerequisites.find((x) => x.type === 'ZoocassaOsSupported');
    expect(p).toMatchObject({ ok: false, reason: 'ZoocassaOsTooOld' });
    expect(p?.message).toMatch(/zoocassa1 \(\S+\) runs Ubuntu 14\.04\.4/);
    expect(old.plan.steps).toEqual([]);
    const ok = planComponent(input());
    expect(ok.prerequisites.every((x) => x.ok)).toBe(true);
    expect(ok.plan.steps.length).toBeGreaterThan(0);
  });
  it('waits for cronus', () => {
    const r = planComponent(input({ cronusReady: false }));
    expect(r.violations.map((v) => v.reason)).toEqual(['CronusNotReady']);
    expect(r.plan.steps).toEqual([]);
  });
  it('deploys only cronus in a sub zone', () => {
    const sub = { zoneId: 'gd2a', mode: 'standard' as const, global: false };
    const r = planComponent(
      input({
        zone: sub,
        facts: facts((f) => {
          f.zones = [];
        }),
      }),
    );
    expect(r.violations.map((v) => v.reason)).toContain('SubZone');
    const c = planComponent(input({ zone: sub, spec: { name: 'cronus' } }));
    expect(c.violations).toEqual([]);
    expect(c.plan.steps.map((s) => s.id)).toEqual([
      'writeVmVariables',
      'installJobGuard',
      'deployComponent',
      'checkComponentRunning',
    ]);
    // The runbook's own command line (seed 002 line 101) under the guard, nothing invented.
    expect(runbookCommand(c.plan.steps[2]!)).toBe(
      '/pitrix/cli/deploy-qingcloud-component.py -v /pitrix/config/vm_variables.gd2a.yaml',
    );
    expect(c.plan.steps[2]!.job?.dir).toMatch(/^\/pitrix\/conf\/operator\/jobs\/gd2a\/deployComponent-/);
    expect(c.plan.steps.map((s) => `${s.command.script} ${s.check?.script ?? ''}`).join('\n')).not.toMatch(
      /-status\.py|-log\.py| -j /,
    );
    expect(c.plan.steps[0]!.stdinContent).toMatch(/deploy_cronus: 1/);
    expect(c.plan.steps[0]!.command.script).not.toMatch(/deploy_cronus/);
  });
  it('refuses floating_ip in fusion mode', () => {
    const r = planComponent(
      input({
        zone: { zoneId: 'gd2a', mode: 'fusion', global: true, proxyHost: '127.77.4.5' },
        facts: facts((f) => {
          f.installerVersion = '4.4.3';
          f.files['/pitrix/config/templates/vm_variables.template.yaml'] += 'floating_ip: 10.16.1.100\n';
        }),
      }),
    );
    expect(r.violations.map((v) => v.reason)).toEqual(['FusionForbidsManagementNetwork']);
  });
});

describe('R3 plan', () => {
  it('removes BOSS V1 role by role, then deploys (golden)', async () => {
    const r = planComponent(input());
    expect(r.v1Leftovers).toContain('proxy1: /etc/nginx/sites-enabled/boss.conf');
    expect(r.sections).toEqual(['removeV1', 'deploy']);
    await expect(render(r)).toMatchFileSnapshot('__golden__/boss-v1-to-v2.txt');
    const write = r.plan.steps.find((s) => s.id === 'setNfServerNotify-gd2a')!;
    // The content travels on stdin; the command carries only digests.
    expect(write.command.script).not.toContain('alert_receiver');
    expect(write.command.script).toContain(sha256(write.stdinContent!));
    const nf = write.stdinContent!;
    expect(nf).toContain('url: http://127.77.4.5:6777/alert_receiver/nf/');
    expect(nf).toContain('enable_save_notifylog: false');
    expect(nf).toContain('retention_days: 30'); // other keys intact
    expect(nf).toContain('# deployment mode'); // and comments
  });

  it('keeps the same plan (hash) while it runs and the platform changes under it', () => {
    const first = planComponent(input());
    // Halfway: V1 gone and the nf_server edit written, the deployment job running.
    const previous: Plan = {
      hash: first.plan.hash,
      steps: first.plan.steps.map((s, i) => ({
        id: s.id,
        ...(s.action ? { action: s.action } : {}),
        command: s.command.script,
        state: i < 25 ? 'Succeeded' : 'Pending',
      })),
    };
    const half = facts((f) => {
      deployed(f);
      delete f.nodeObs.boss1!.packages['pitrix-ks-boss2'];
      f.files[SERVER] = applySettings(
        f.files[SERVER],
        [
          { path: ['nf_server', 'notify_settings', 'system', 'enable_save_notifylog'], value: false },
          {
            path: ['nf_server', 'notify_settings', 'system', 'notifylog_third_parties', 'webhook'],
            value: { type: 'webhook', url: 'http://127.77.4.5:6777/alert_receiver/nf/' },
          },
        ],
        SERVER,
      );
    });
    const again = planComponent(input({ facts: half, previous }));
    expect(again.plan.steps.map((s) => s.command.script)).toEqual(
      first.plan.steps.map((s) => s.command.script),
    );
    expect(again.plan.hash).toBe(first.plan.hash);
    // Once the journal is complete, the sections are decided from the platform again.
    const done = planComponent(
      input({
        facts: facts(deployed),
        previous: { ...previous, steps: previous.steps!.map((s) => ({ ...s, state: 'Succeeded' as const })) },
      }),
    );
    expect(done.plan.steps).toEqual([]);
  });

  it("keeps a section in the plan by its journaled steps' actions, never by parsing their ids", () => {
    const first = planComponent(input());
    const stops = first.plan.steps.filter((s) => s.action === 'stopV1Program');
    expect(stops.map((s) => s.id)).toContain('stopV1Program-webservice.boss_collector');
    const journal = (withAction: boolean): Plan => ({
      hash: first.plan.hash,
      steps: stops.map((s, i) => ({
        id: s.id,
        ...(withAction ? { action: s.action } : {}),
        state: i === 0 ? 'Succeeded' : 'Pending',
      })),
    });
    // V1 is gone and BOSS V2 not installed: only the unfinished journal keeps removeV1.
    const gone = facts((f) => {
      deployed(f);
      delete f.nodeObs.boss1!.packages['pitrix-ks-boss2'];
    });
    expect(planComponent(input({ facts: gone, previous: journal(true) })).sections).toEqual([
      'removeV1',
      'deploy',
    ]);
    expect(planComponent(input({ facts: gone, previous: journal(false) })).sections).toEqual(['deploy']);
  });

  it('a node whose answer is missing or not trusted is unknown, never "not installed": nothing is planned', () => {
    const unknownOn = (node: string, error: string) => (f: ComponentFacts) => {
      deployed(f);
      f.nodeObs[node] = {
        nodeId: node,
        reached: false,
        programs: null,
        packages: {},
        nginxBossSite: [],
        error,
      };
    };
    // Deployed BOSS whose boss node did not answer: a deploy must not be planned on that guess.
    const forged =
      "exec_nodes.sh output names boss1 more than once (a node's output imitates another's section); its answer is not trusted";
    const r = planComponent(input({ facts: facts(unknownOn('boss1', forged)) }));
    expect(r.plan.steps).toEqual([]);
    expect(r.violations.map((v) => v.reason)).toEqual(['NodeStateUnknown']);
    expect(r.violations[0]!.message).toContain(`boss1: ${forged}`);
    // For BOSS, a node V1 may be left on counts as well (a proxy with its nginx site).
    const p = planComponent(
      input({ facts: facts(unknownOn('proxy1', 'ssh: connect to host proxy1 port 22: Connection refused')) }),
    );
    expect(p.plan.steps).toEqual([]);
    expect(p.violations[0]!.message).toMatch(/^cannot tell what .*proxy1: ssh: connect to host/);
    // For cronus, only its own role's nodes: a proxy that is down changes nothing.
    const c = planComponent(
      input({
        spec: { name: 'cronus' },
        facts: facts(unknownOn('proxy1', 'no output from exec_nodes.sh')),
      }),
    );
    expect(c.violations).toEqual([]);
  });
  it('reports health, versions and the default password once deployed; nothing to do', () => {
    const r = planComponent(input({ facts: facts(deployed) }));
    expect(r.installed).toBe(true);
    expect(r.plan.steps).toEqual([]);
    expect(r.health).toEqual({ healthy: true });
    expect(r.versions['pitrix-ks-boss2']).toBe('4.4.3-1');
    expect(r.defaultCredentials).toEqual({ account: 'boss@gd2.qingcloud.local', accepted: true });
    // A probe the installer does not have (seed 002 names none) is Unknown, never "not accepted".
    for (const pw of [{ exitCode: 2, output: "Unknown command: 'check_default_password'" }, undefined]) {
      const u = planComponent(
        input({
          facts: facts((f) => {
            deployed(f);
            if (pw) f.password = pw;
            else delete f.password;
          }),
        }),
      );
      expect(u.defaultCredentials).toMatchObject({ account: 'boss@DOMAIN', accepted: undefined });
    }
  });

  it('a config change rebuilds and updates only the affected package', () => {
    const r = planComponent(
      input({ facts: facts(deployed), spec: { config: { boss2: { 'boss2.debug': true } } } }),
    );
    const ran = r.plan.steps.filter((s) => s.id !== 'installJobGuard');
    expect(ran.map((s) => runbookCommand(s).split(' && ').at(-1))).toEqual([
      expect.stringContaining(
        'mv -f /pitrix/conf/variables/boss2/boss2.yaml.gd2a.operator-tmp /pitrix/conf/variables/boss2/boss2.yaml.gd2a',
      ),
      '/pitrix/build/build_pkgs.py -p pitrix-ks-boss2-conf',
      '/pitrix/upgrade/update.sh boss pitrix-ks-boss2-conf',
    ]);
    // The build and the install are guarded jobs, whose ids follow the write: the same
    // configuration reached again from another content is a new job, never "already done".
    expect(ran.slice(1).every((s) => !!s.job && !s.idempotent)).toBe(true);
    const other = planComponent(
      input({
        facts: facts((f) => {
          deployed(f);
          f.files['/pitrix/conf/variables/boss2/boss2.yaml.gd2a'] = '# boss2 backend\nboss2:\n  debug: 3\n';
        }),
        spec: { config: { boss2: { 'boss2.debug': true } } },
      }),
    );
    expect(other.plan.steps.find((s) => s.id === 'buildBoss2Config')!.job!.dir).not.toBe(
      ran.find((s) => s.id === 'buildBoss2Config')!.job!.dir,
    );
    expect(r.plan.steps[0]!.stdinContent).toContain('# boss2 backend');
    expect(r.plan.steps[0]!.stdinContent).toContain('workers: 4');
    expect(r.plan.steps[0]!.command.script).not.toContain('workers');
  });

  it('applies both configuration files, each rebuilt and updated (golden)', async () => {
    const r = planComponent(
      input({
        facts: facts((f) => {
          deployed(f);
          f.files['/pitrix/conf/variables/boss2/local_config.yaml'] = '# console\nsite:\n  title: BOSS\n';
        }),
        spec: { config: { boss2: { 'boss2.debug': true }, console: { 'site.title': 'Billing' } } },
      }),
    );
    expect(r.violations).toEqual([]);
    await expect(render(r)).toMatchFileSnapshot('__golden__/boss-config.txt');
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'writeBoss2Config',
      'installJobGuard',
      'buildBoss2Config',
      'updateBoss2Config',
      'writeConsoleConfig',
      'buildConsoleConfig',
      'updateConsoleConfig',
    ]);
  });

  it('upgrades in the R3 order when a newer pinned package is in the repository (golden)', async () => {
    const spec = { packages: [{ name: 'pitrix-ks-boss2', version: '4.4.3-2' }] };
    const missing = planComponent(input({ facts: facts(deployed), spec }));
    expect(missing.violations[0]?.reason).toBe('PackageNotInRepository');
    expect(missing.violations[0]?.message).toMatch(
      /pitrix-ks-boss2_4\.4\.3-2_all\.deb is not in \/pitrix\/repo\/indep\/boss2\//,
    );
    const r = planComponent(
      input({
        facts: facts((f) => {
          deployed(f);
          f.repoDebs.push('pitrix-ks-boss2_4.4.3-2_all.deb');
        }),
        spec,
      }),
    );
    await expect(render(r)).toMatchFileSnapshot('__golden__/boss-upgrade.txt');
    expect(r.plan.steps.at(-1)!.verify!('pitrix-ks-boss2 4.4.3-1\n')).toMatch(/4\.4\.3-1 < 4\.4\.3-2/);
    expect(r.plan.steps.at(-1)!.verify!('pitrix-ks-boss2 4.4.3-2\n')).toBeUndefined();
  });

  it('state: Absent removes nothing and says so', () => {
    const r = planComponent(input({ facts: facts(deployed), spec: { state: 'Absent' } }));
    expect(r.plan.steps).toEqual([]);
    expect(r.unsupported).toMatch(/only BOSS V1/);
  });

  it('websupervisor builds and installs its package on webservice nodes (golden)', async () => {
    const r = planComponent(input({ spec: { name: 'websupervisor' } }));
    await expect(render(r)).toMatchFileSnapshot('__golden__/websupervisor.txt');
    expect(r.plan.steps.filter((s) => s.id !== 'installJobGuard').map(runbookCommand)).toEqual([
      '/pitrix/build/build_pkgs.py -p pitrix-ks-webservice-websupervisor',
      '/pitrix/upgrade/update.sh webservice pitrix-ks-webservice-websupervisor',
      "/pitrix/upgrade/exec_nodes.sh -f webservice 'supervisorctl status websupervisor'",
    ]);
  });
});
