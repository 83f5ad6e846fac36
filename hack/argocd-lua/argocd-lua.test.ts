/**
 * The Argo CD health script and resource actions of our kinds, run by gopher-lua (the Lua 5.1 VM
 * Argo CD embeds; hack/argocd-lua) against helm/pitrix-operator/argocd/health_test.yaml and
 * actions/action_test.yaml, in Argo CD's own layout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const dir = resolve(root, 'helm/pitrix-operator/argocd');
const bin = () =>
  execFileSync('bash', [resolve(root, 'hack/argocd-lua-assets.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();

describe('Argo CD health and actions (gopher-lua)', () => {
  it('every case of health_test.yaml and action_test.yaml gives the expected result', () => {
    const r = spawnSync(bin(), [dir], { encoding: 'utf8' });
    console.log(r.stdout);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('ok ')).length).toBe(lines.length);
    expect(lines.length).toBeGreaterThanOrEqual(19);
  });

  it('a wrong expectation fails (the runner compares, it does not just run)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'argocd-lua-'));
    try {
      cpSync(dir, tmp, { recursive: true });
      const f = join(tmp, 'health_test.yaml');
      writeFileSync(f, readFileSync(f, 'utf8').replace('status: Degraded', 'status: Healthy'));
      const r = spawnSync(bin(), [tmp], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/FAIL health testdata\/nodepool-step-failed\.yaml/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the chart renders the same scripts, for each of the five kinds, as argocd-cm keys', () => {
    const helm = execFileSync('bash', [resolve(root, 'hack/helm-assets.sh')], { encoding: 'utf8' }).trim();
    const out = execFileSync(
      helm,
      ['template', 'r', resolve(root, 'helm/pitrix-operator'), '--set', 'argocd.customizations.enabled=true'],
      { encoding: 'utf8' },
    );
    const cm = out
      .split(/^---$/m)
      .map((d) => parse(d) as { kind?: string; metadata?: { name: string }; data?: Record<string, string> })
      .find((d) => d?.metadata?.name === 'r-pitrix-operator-argocd-cm')!;
    const src = (f: string) => readFileSync(join(dir, f), 'utf8');
    for (const kind of ['Zone', 'NodePool', 'Component', 'TagServer', 'WebserviceUpgrade']) {
      expect(cm.data![`resource.customizations.health.ops.pitrix.io_${kind}`]).toBe(src('health.lua'));
      const actions = parse(cm.data![`resource.customizations.actions.ops.pitrix.io_${kind}`]!) as {
        'discovery.lua': string;
        definitions: Array<{ name: string; 'action.lua': string }>;
      };
      expect(actions['discovery.lua']).toBe(src('actions/discovery.lua'));
      for (const a of actions.definitions) expect(a['action.lua']).toBe(src(`actions/${a.name}/action.lua`));
      expect(actions.definitions.map((a) => a.name)).toEqual(['approve', 'pause', 'resume']);
    }
  });
});
