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
});
