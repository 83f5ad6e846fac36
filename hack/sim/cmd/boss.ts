/** R3: component deployment (BOSS V2, cronus, websupervisor), django_manage.sh, dump_hosts.py. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BOSS_V1_PROGRAMS, compareVersions } from '../catalog.js';
import { readJson, updateBoss } from '../store.js';
import type { BossDb } from '../types.js';
import { CmdError, fb, getopt, nodeRoot, out, ROOT, readNode, SERVICES, self, str, updateFb } from './ctx.js';
import { runJob } from './jobs.js';
import { installOnNode } from './packages.js';

type Cmd = (args: string[]) => Promise<number> | number;

const COMPONENTS: Record<string, { pkgs: string[]; role: string; flag: keyof BossDb }> = {
  deploy_boss: {
    pkgs: [
      'pitrix-ks-boss2',
      'pitrix-ks-boss2-console',
      'pitrix-ks-boss2-conf',
      'pitrix-transit-upload-server',
    ],
    role: 'boss',
    flag: 'v2Deployed',
  },
  deploy_cronus: { pkgs: ['pitrix-cronus'], role: 'webservice', flag: 'cronusDeployed' },
  deploy_websupervisor: {
    pkgs: ['pitrix-ks-webservice-websupervisor'],
    role: 'webservice',
    flag: 'websupervisorDeployed',
  },
};

const deployComponent: Cmd = async (args) => {
  const { opts } = getopt(args, ['-v']);
  const file = str(opts['-v']);
  if (!file)
    throw new CmdError('usage: deploy-qingcloud-component.py -v /pitrix/config/vm_variables.ZONE_ID.yaml', 2);
  const m = /vm_variables\.([^./]+)\.yaml$/.exec(file);
  if (!m) throw new CmdError(`${file}: the file name must be vm_variables.ZONE_ID.yaml`, 2);
  const zone = m[1]!;
  const path = file.startsWith('/') ? file : join(process.cwd(), file);
  if (!existsSync(path)) throw new CmdError(`cannot open ${file}`, 2);
  const vars = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  const f = fb();
  const z = f.zones.find((x) => x.zone_id === zone);
  if (!z) throw new CmdError(`zone ${zone} does not exist`, 2);
  const chosen = Object.keys(COMPONENTS).filter((k) => Number(vars[k]) === 1);
  if (chosen.length !== 1)
    throw new CmdError(
      `exactly one component may be deployed per run; got ${chosen.length ? chosen.join(', ') : 'none'}`,
      2,
    );
  if (z.mode === 'fusion' && (vars.floating_ip || vars.mgmt_network_address))
    throw new CmdError('fusion mode: floating_ip and mgmt_network_address cannot be set', 2);
  const comp = COMPONENTS[chosen[0]!]!;
  const boss = readJson<BossDb>(join(SERVICES, 'boss.json'));
  if (chosen[0] === 'deploy_boss') {
    if (compareVersions(f.installerVersion, '4.3') < 0)
      throw new CmdError(`BOSS V2 needs installer >= 4.3 (have ${f.installerVersion})`, 2);
    if (!z.is_global_zone)
      throw new CmdError(`zone ${zone} is a sub zone: only cronus can be deployed there`, 2);
    if (!boss.cronusDeployed) throw new CmdError('cronus must be deployed before BOSS V2', 2);
    const v1 = bossV1Leftovers(f.nodes.map((n) => n.host));
    if (v1.length)
      throw new CmdError(`BOSS V1 is still installed (${v1.join(', ')}); uninstall it first (R3 step 1)`, 2);
    if (compareVersions(f.installerVersion, '4.4.3') < 0) {
      for (const n of f.nodes.filter((x) => x.roles.includes('zoocassa'))) {
        const os = readNode(n.host).facts.os.version;
        if (compareVersions(os, '14.04.5') < 0)
          throw new CmdError(`zoocassa node ${n.node_id} runs Ubuntu ${os}; BOSS V2 needs >= 14.04.5`, 2);
      }
    }
  }
  const targets = f.nodes.filter(
    (n) => n.zone_id === zone && n.roles.includes(comp.role) && n.status === 'deployed',
  );
  if (!targets.length) throw new CmdError(`zone ${zone} has no ${comp.role} nodes`, 2);
  return runJob('deploy-qingcloud-component', zone, [
    { desc: `check ${chosen[0]} prerequisites`, ms: 400 },
    { desc: 'build component packages', ms: 900 },
    {
      desc: `install on ${targets.map((t) => t.node_id).join(', ')}`,
      ms: 1200,
      run: () => {
        const fx = fb();
        for (const t of targets)
          for (const p of comp.pkgs)
            installOnNode(t.host, p, fx.repo[p]?.at(-1) ?? `${fx.installerVersion}-1`, fx);
        // The installed versions come from the repository: its index lists them (update.sh needs them).
        updateFb((x) => {
          for (const p of comp.pkgs) if (!x.repo[p]?.length) x.repo[p] = [`${x.installerVersion}-1`];
        });
        if (comp.flag === 'v2Deployed') writeBossConfig(zone, f.domain);
      },
    },
    { desc: 'initialize database', ms: 800 },
    {
      desc: 'register component',
      ms: 400,
      run: () =>
        updateBoss(SERVICES, (db) => {
          (db as unknown as Record<string, unknown>)[comp.flag] = true;
          if (comp.flag === 'v2Deployed') db.defaultPassword = true;
        }),
    },
  ]);
};

/** The configuration files R3 "maintain" edits, as the deployment leaves them. */
function writeBossConfig(zone: string, domain: string): void {
  const dir = join(ROOT, 'pitrix/conf/variables/boss2');
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {
    [`boss2.yaml.${zone}`]: `# BOSS V2 backend configuration of zone ${zone}\nboss2:\n  zone_id: ${zone}\n  debug: false\n  workers: 4\ndatabase:\n  host: ${zone}-pgserver\n  port: 5432\n`,
    'local_config.yaml': `# BOSS V2 console configuration\nsite_name: BOSS\ndomain: boss.${domain}\npage_size: 20\n`,
  };
  for (const [name, text] of Object.entries(files))
    if (!existsSync(join(dir, name))) writeFileSync(join(dir, name), text);
}

/** BOSS V1 as R3 step 1 finds it: its programs, its nginx site on proxies, boss.yaml* here. */
function bossV1Leftovers(hosts: string[]): string[] {
  const v1 = new Set(Object.values(BOSS_V1_PROGRAMS).flat());
  const found: string[] = [];
  for (const id of hosts) {
    const h = readNode(id);
    for (const p of Object.keys(h.supervisor.programs)) if (v1.has(p)) found.push(`${id}:${p}`);
    if (existsSync(join(nodeRoot(id), 'etc/nginx/sites-enabled/boss.conf')))
      found.push(`${id}:nginx boss.conf`);
  }
  const conf = join(ROOT, 'pitrix/conf/variables/global');
  for (const f of readdirSync(conf)) if (f.startsWith('boss.yaml')) found.push(`firstbox:${f}`);
  return found;
}

function bossNodes(): string[] {
  const s = self();
  if (s.firstbox) return s.firstbox.nodes.filter((n) => n.roles.includes('boss')).map((n) => n.host);
  return [s.id];
}

const djangoManage: Cmd = (args) => {
  const [cmd = '', ...rest] = args;
  const db = readJson<BossDb>(join(SERVICES, 'boss.json'));
  if (!db.v2Deployed) throw new CmdError('django_manage.sh: BOSS V2 is not deployed', 1);
  switch (cmd) {
    case 'areyouok': {
      const down = bossNodes().flatMap((id) => {
        const h = id === self().id ? self() : readNode(id);
        return Object.entries(h.supervisor.programs)
          .filter(([n, p]) => n.startsWith('boss2') && p.state !== 'RUNNING')
          .map(([n]) => `${id}:${n}`);
      });
      if (!db.healthy || down.length) {
        out(`not ok: ${down.length ? `${down.join(', ')} not running` : 'database unreachable'}`);
        return 1;
      }
      out('ok');
      return 0;
    }
    case 'versions': {
      const id = bossNodes()[0]!;
      const h = id === self().id ? self() : readNode(id);
      for (const p of [
        'pitrix-ks-boss2',
        'pitrix-ks-boss2-console',
        'pitrix-ks-boss2-conf',
        'pitrix-transit-upload-server',
      ])
        out(`${p} ${h.packages[p] ?? 'none'}`);
      return 0;
    }
    case 'rebuild_cache':
    case 'migrate':
    case 'init_data': {
      const key = { rebuild_cache: 'cacheRebuilds', migrate: 'migrations', init_data: 'initData' }[
        cmd
      ] as 'cacheRebuilds';
      const n = updateBoss(SERVICES, (b) => ++b[key]);
      out(
        cmd === 'migrate'
          ? `Operations to perform: apply all migrations\nRunning migrations: ok (${n})`
          : `${cmd}: done`,
      );
      return 0;
    }
    case 'check_default_password': {
      // Never prints the password: only whether the shipped default is still accepted.
      out(`boss@${fb0().domain}: default password ${db.defaultPassword ? 'ACCEPTED' : 'rejected'}`);
      return db.defaultPassword ? 0 : 3;
    }
    case 'change_password': {
      if (!rest[0]) throw new CmdError('usage: django_manage.sh change_password boss@DOMAIN', 2);
      updateBoss(SERVICES, (b) => {
        b.defaultPassword = false;
      });
      out(`password changed for ${rest[0]}`);
      return 0;
    }
    default:
      throw new CmdError(
        `Unknown command: '${cmd}'. Known: areyouok, versions, rebuild_cache, migrate, init_data, check_default_password, change_password`,
        2,
      );
  }
};

function fb0(): { domain: string } {
  const s = self();
  return { domain: s.firstbox?.domain ?? readJson<{ domain: string }>(join(SERVICES, 'config.json')).domain };
}

const dumpHosts: Cmd = () => {
  const f = fb();
  const lines = f.nodes.map((n) => `${n.mgmt_ip}\t${n.hostname} ${n.node_id}`);
  const boss = f.nodes.find((n) => n.roles.includes('proxy'));
  if (boss) lines.push(`${boss.mgmt_ip}\tboss.${f.domain}`);
  writeFileSync(join(ROOT, 'pitrix/conf/hosts'), `${lines.join('\n')}\n`);
  out(lines.join('\n'));
  return 0;
};

export const BOSS_COMMANDS: Record<string, Cmd> = {
  'deploy-qingcloud-component.py': deployComponent,
  'django_manage.sh': djangoManage,
  'dump_hosts.py': dumpHosts,
};
