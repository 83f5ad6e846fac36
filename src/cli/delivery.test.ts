import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staticFiles } from './delivery.js';

const root = resolve(import.meta.dirname, '../..');

describe('generated delivery files', () => {
  it('the chart and manifests CRDs, the chart RBAC rules and the base kustomization are up to date (npm run delivery)', () => {
    const files = staticFiles();
    expect(Object.keys(files).filter((f) => f.includes('/crds/'))).toHaveLength(10);
    for (const [path, content] of Object.entries(files)) {
      const onDisk = readFileSync(join(root, path), 'utf8');
      expect(onDisk, `${path} is stale: run \`npm run delivery\` (or \`npm run crds\`) and commit`).toBe(
        content,
      );
    }
  });

  it('the chart CRDs are the same text as crds/', () => {
    for (const [path, content] of Object.entries(staticFiles()).filter(([p]) =>
      p.startsWith('helm/pitrix-operator/crds/'),
    )) {
      expect(readFileSync(join(root, 'crds', path.split('/').pop()!), 'utf8')).toBe(content);
    }
  });
});
