/**
 * Schemas for kubeconform without the internet: the JSON schemas kubeconform normally downloads
 * (yannh/kubernetes-json-schema, "standalone-strict") are made from our own control plane's
 * OpenAPI v3 documents (`/openapi/v3/<group-version>`), which describe the built-in kinds of that
 * Kubernetes version and every CRD installed (our five kinds, from crds/). The conversion follows
 * kubeconform's openapi2jsonschema.py: one self-contained file per kind, `additionalProperties:
 * false` on every object that lists its properties (strict: an unknown field is a finding), int-or-
 * string and quantities as either type, `nullable` as a null type.
 *
 * Files are named for kubeconform's `-schema-location` template SCHEMA_LOCATION below.
 */

type Schema = Record<string, unknown>;

/** kubeconform's template for the files `kindSchemas` writes (relative to their directory). */
export const SCHEMA_LOCATION = '{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json';

/** The file name kubeconform looks for (its `schemaPath`: Group is the apiVersion before '/'). */
export function schemaFileName(apiVersion: string, kind: string): string {
  const parts = apiVersion.split('/');
  return `${kind.toLowerCase()}_${parts[0]}_${parts[parts.length - 1]}.json`;
}

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/**
 * One OpenAPI v3 group-version document → a standalone strict schema per kind it defines, as
 * file name → schema. Only the schemas a kind references are copied into its file.
 */
export function kindSchemas(doc: { components?: { schemas?: Record<string, Schema> } }): Map<string, Schema> {
  const all = doc.components?.schemas ?? {};
  const out = new Map<string, Schema>();
  for (const [name, schema] of Object.entries(all)) {
    const gvks = (schema['x-kubernetes-group-version-kind'] ?? []) as Gvk[];
    for (const gvk of gvks) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      // Shared option types (DeleteOptions, WatchEvent…) list many GVKs: not a kind of their own.
      if (gvks.length !== 1 || !hasTypeMeta(schema)) continue;
      const definitions: Record<string, Schema> = {};
      for (const ref of closure(name, all)) definitions[ref] = strict(all[ref]!, ref);
      out.set(schemaFileName(apiVersion, gvk.kind), {
        $schema: 'http://json-schema.org/draft-04/schema#',
        $ref: `#/definitions/${escapePointer(name)}`,
        definitions,
      });
    }
  }
  return out;
}

function hasTypeMeta(schema: Schema): boolean {
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  return 'apiVersion' in props && 'kind' in props;
}

/** Names of the schemas `root` reaches through `$ref`, itself included. */
function closure(root: string, all: Record<string, Schema>): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !all[name]) return;
    seen.add(name);
    walk(all[name], (ref) => visit(ref));
  };
  visit(root);
  return seen;
}

const REF_PREFIX = '#/components/schemas/';

function walk(node: unknown, onRef: (name: string) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, onRef);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF_PREFIX))
        onRef(decodeURIComponent(v.slice(REF_PREFIX.length)).replace(/~1/g, '/').replace(/~0/g, '~'));
      else walk(v, onRef);
    }
  }
}

function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The strict JSON-schema form of one OpenAPI v3 schema node (pure; returns a copy). */
export function strict(node: Schema, name = ''): Schema {
  if (name.endsWith('.Quantity')) return quantity(node);
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith(REF_PREFIX))
      out.$ref = `#/definitions/${v.slice(REF_PREFIX.length)}`;
    else if (k === 'properties' || k === 'patternProperties' || k === 'definitions')
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Schema>).map(([p, s]) => [p, strict(s)]),
      );
    else if (k === 'default' || k === 'example' || k === 'enum' || k.startsWith('x-kubernetes-')) out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map((x) => (x && typeof x === 'object' ? strict(x as Schema) : x));
    else if (v && typeof v === 'object') out[k] = strict(v as Schema);
    else out[k] = v;
  }
  if (out.format === 'int-or-string' || out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    delete out.format;
    delete out.anyOf;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  const open = out['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties && out.additionalProperties === undefined && !open) out.additionalProperties = false;
  return out;
}

function quantity(node: Schema): Schema {
  const { type: _t, format: _f, ...rest } = node;
  return { ...rest, oneOf: [{ type: 'string' }, { type: 'number' }] };
}
