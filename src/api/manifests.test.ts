import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ApiValidationError } from './common.js';
import { parseResource } from './kinds.js';
import { parseNodePool } from './nodepool.js';
import { parseZone } from './zone.js';

const examplesDir = new URL('../../examples/', import.meta.url);
const invalidDir = new URL('../../test/fixtures/invalid/', import.meta.url);

function docs(dir: URL, file: string): unknown[] {
  return parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => d.toJS());
}

describe('examples/', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));

  it('has the demo set', () => {
    expect(files.length).toBeGreaterThanOrEqual(9);
  });

  it.each(files)('%s parses', (file) => {
    for (const doc of docs(examplesDir, file)) {
      const apiVersion = (doc as { apiVersion?: string }).apiVersion;
      if (apiVersion === 'v1') continue; // Secrets
      expect(() => parseResource(doc)).not.toThrow();
    }
  });

  it('references resolve within the set', () => {
    const all = files.flatMap((f) => docs(examplesDir, f)) as Array<{
      kind: string;
      metadata: { name: string };
      spec?: { zoneRef?: { name: string } };
    }>;
    const zones = new Set(all.filter((d) => d.kind === 'Zone').map((d) => d.metadata.name));
    for (const d of all) if (d.spec?.zoneRef) expect(zones).toContain(d.spec.zoneRef.name);
  });
});

describe('test/fixtures/invalid/', () => {
  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'));
  const header = (file: string) => {
    const text = readFileSync(new URL(file, invalidDir), 'utf8');
    return {
      expectLine: /^# expect: (.+)$/m.exec(text)?.[1],
      field: /^# field: (.+)$/m.exec(text)?.[1],
      first: text.split('\n')[0] ?? '',
    };
  };

  it('holds at least 18 rules', () => {
    expect(files.filter((f) => header(f).expectLine).length).toBeGreaterThanOrEqual(18);
  });

  it.each(files)('%s has its header', (file) => {
    const h = header(file);
    const isBase = files.includes(file.replace(/\.yaml$/, '.update.yaml'));
    if (isBase) {
      expect(h.first).toMatch(/^# base: /);
      return;
    }
    expect(h.first).toMatch(/^# expect: /);
    expect(h.field, 'a `# field:` line names the field for the runtime check').toBeDefined();
    expect(h.expectLine).toContain(h.field!.replace(/\[\d+\]$/, ''));
  });

  // Transition rules (oldSelf) exist only on the server; base files are valid by design.
  const runtimeCases = files.filter((f) => !f.endsWith('.update.yaml') && header(f).field);
  it.each(runtimeCases)('%s is refused by runtime validation, naming the field', (file) => {
    const { field } = header(file);
    const [doc] = docs(invalidDir, file);
    let error: unknown;
    try {
      parseResource(doc);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiValidationError);
    const paths = (error as ApiValidationError).issues.map((i) => i.path);
    expect(paths).toContain(field);
    expect((error as Error).message).toContain(`${field}:`);
  });

  it('update bases are valid on their own', () => {
    for (const f of files.filter((f) => f.endsWith('.update.yaml'))) {
      const base = f.replace('.update.yaml', '.yaml');
      expect(() => parseResource(docs(invalidDir, base)[0])).not.toThrow();
      expect(() => parseResource(docs(invalidDir, f)[0])).not.toThrow();
    }
  });
});

describe('runtime validation', () => {
  const zone = {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Zone',
    metadata: { name: 'z', uid: 'u1', managedFields: [{ manager: 'kubectl' }] },
    spec: {
      zoneId: 'pek3a',
      firstbox: {
        host: '127.77.0.10',
        credentialsSecretRef: { name: 's' },
        hostKeyPolicy: 'TrustOnFirstUse',
      },
    },
  };

  it('applies the defaults the API server applies and keeps unknown metadata', () => {
    const z = parseZone(zone);
    expect(z.spec.firstbox.port).toBe(22);
    expect(z.spec.firstbox.user).toBe('root');
    expect(z.spec.mode).toBe('standard');
    expect(z.spec.refreshInterval).toBe('5m');
    expect(z.spec.paused).toBe(false);
    expect((z.metadata as Record<string, unknown>).managedFields).toBeDefined();
  });

  it('names the field and the pattern in a friendly message', () => {
    const bad = structuredClone(zone);
    bad.spec.firstbox.host = 'a b';
    expect(() => parseZone(bad)).toThrow(/spec\.firstbox\.host: must match '/);
  });

  it('checks the root rule eraseDataDisks.confirm == metadata.name', () => {
    const pool = {
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'NodePool',
      metadata: { name: 'p1' },
      spec: {
        zoneRef: { name: 'z' },
        role: 'hyper',
        nodes: [{ address: '127.77.0.21' }],
        eraseDataDisks: { devices: ['sdb'], confirm: 'p1' },
      },
    };
    expect(parseNodePool(pool).spec.eraseDataDisks?.confirm).toBe('p1');
    pool.spec.eraseDataDisks.confirm = 'p2';
    expect(() => parseNodePool(pool)).toThrow(/spec\.eraseDataDisks\.confirm: .*must equal/);
  });

  it('refuses an unknown kind', () => {
    expect(() => parseResource({ kind: 'Pod' })).toThrow(/unknown kind/);
  });
});

describe('runtime messages', () => {
  it('tells a missing field from a wrong type', () => {
    expect(() =>
      parseResource({ apiVersion: 'ops.pitrix.io/v1alpha1', kind: 'Zone', metadata: { name: 'x' } }),
    ).toThrow(/spec: required/);
    expect(() =>
      parseResource({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'Zone',
        metadata: { name: 'x' },
        spec: 'x',
      }),
    ).toThrow(/spec: must be object/);
  });
});
