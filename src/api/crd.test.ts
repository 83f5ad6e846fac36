import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrds } from './crd.js';
import { kinds } from './kinds.js';

const crdDir = new URL('../../crds/', import.meta.url);

type Schema = Record<string, unknown>;

/** Visits every schema node with its path, the way the API server names fields. */
function walk(node: Schema, path: string, visit: (node: Schema, path: string) => void): void {
  visit(node, path);
  const props = node.properties as Record<string, Schema> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) walk(v, path ? `${path}.${k}` : k, visit);
  if (node.items) walk(node.items as Schema, `${path}[*]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties as Schema, `${path}.*`, visit);
}

function rootSchema(yaml: string): Schema {
  const crd = parse(yaml);
  return crd.spec.versions[0].schema.openAPIV3Schema as Schema;
}

describe('generated CRDs', () => {
  const rendered = renderCrds();

  it('match the committed files in crds/ (run `npm run crds` after changing src/api)', () => {
    const committed = readdirSync(crdDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(committed, 'crds/ holds other files than the generator produces: run `npm run crds`').toEqual(
      rendered.map((c) => c.fileName).sort(),
    );
    for (const c of rendered) {
      const onDisk = readFileSync(new URL(c.fileName, crdDir), 'utf8');
      expect(onDisk, `crds/${c.fileName} is stale: run \`npm run crds\` and commit the result`).toBe(c.yaml);
    }
  });

  it('one CRD per kind, with status subresource, short names and the pitrix category', () => {
    expect(rendered).toHaveLength(kinds.length);
    for (const [i, c] of rendered.entries()) {
      const crd = parse(c.yaml);
      const info = kinds[i]!;
      expect(crd.metadata.name).toBe(`${info.plural}.ops.pitrix.io`);
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.names.categories).toContain('pitrix');
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
      const cols = crd.spec.versions[0].additionalPrinterColumns.map((p: { name: string }) => p.name);
      expect(cols).toContain('Ready');
      expect(cols.at(-1)).toBe('Age');
    }
  });

  it('schemas are structural, described and bounded (so kubectl explain teaches and CEL cost estimation passes)', () => {
    const problems: string[] = [];
    for (const c of rendered) {
      const root = rootSchema(c.yaml);
      expect(root.required, `${c.fileName}: only spec is required`).toEqual(['spec']);
      walk(root, '', (node, path) => {
        const where = `${c.fileName} ${path || '<root>'}`;
        if (path === 'metadata') return;
        if (!node.type && !node['x-kubernetes-preserve-unknown-fields']) problems.push(`${where}: no type`);
        if (!node.description && !path.endsWith('[*]') && !path.endsWith('.*'))
          problems.push(`${where}: no description`);
        if (
          node.type === 'string' &&
          node.maxLength === undefined &&
          !node.enum &&
          path !== 'apiVersion' &&
          path !== 'kind'
        )
          problems.push(`${where}: string without maxLength`);
        if (node.type === 'array' && node.maxItems === undefined)
          problems.push(`${where}: array without maxItems`);
        if (node.additionalProperties && node.maxProperties === undefined)
          problems.push(`${where}: map without maxProperties`);
        for (const bad of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'nullable', 'const']) {
          if (bad in node) problems.push(`${where}: ${bad}`);
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('carries the rules the API server enforces', () => {
    const all = rendered.map((c) => c.yaml).join('\n');
    for (const rule of [
      'message: zoneId is immutable',
      "rule: self.role != 'vg' || self.nodes.all(n, has(n.eips) && size(n.eips) > 0)",
      'self.spec.eraseDataDisks.confirm == self.metadata.name',
      'rule: self == 1',
      'x-kubernetes-preserve-unknown-fields: true',
    ]) {
      expect(all).toContain(rule);
    }
  });
});

describe('toStructural', () => {
  it('refuses what a CRD cannot express instead of emitting it', async () => {
    const { toStructural } = await import('./crd.js');
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toThrow(/anyOf/);
    expect(() => toStructural({ type: 'object', properties: { a: {} } })).toThrow(
      /\.a: structural schemas need a type/,
    );
  });

  it('turns free-form objects into preserve-unknown-fields and drops zod int bounds', async () => {
    const { toStructural } = await import('./crd.js');
    expect(
      toStructural({
        type: 'object',
        properties: {},
        additionalProperties: {},
        description: 'x',
      }),
    ).toEqual({ type: 'object', description: 'x', 'x-kubernetes-preserve-unknown-fields': true });
    expect(toStructural({ type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 })).toEqual({
      type: 'integer',
    });
  });
});
