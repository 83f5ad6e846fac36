/**
 * Status that cannot wedge. Values observed on the platform (NICs, disks, tag names, output lines)
 * have no bound of their own, while the CRD's schema has: one hyper with 65 addressed interfaces
 * made every NodePool status write fail with 422, and a resource whose status cannot be written is
 * stuck. So every status is clamped to the bounds of its kind's own schema (the openAPIV3Schema
 * rendered from the zod schema, the very bounds the API server enforces) before it is sent:
 * strings are cut and end in TRUNCATED_MARK, arrays and maps lose their excess entries, and each
 * cut is named so the writer can report it (a `Truncated` condition). Clamping is deterministic,
 * so an unchanged observation clamps to the same status and writes nothing.
 */
import { openApiSchema } from './crd.js';
import { kindInfo } from './kinds.js';

type JsonSchema = Record<string, unknown>;

export const TRUNCATED_MARK = '…[truncated]';

export interface ClampResult<T> {
  value: T;
  /** One phrase per cut: `nodes[0].facts.nics: 1 of 65 item(s) omitted`. */
  omitted: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Clamps `value` to `schema` (a structural JSON schema); never mutates its input. */
export function clampToSchema<T>(value: T, schema: JsonSchema, path = ''): ClampResult<T> {
  const omitted: string[] = [];
  const out = walk(value, schema, path, omitted) as T;
  return { value: out, omitted };
}

function walk(value: unknown, schema: JsonSchema | undefined, path: string, omitted: string[]): unknown {
  if (!schema) return value;
  if (typeof value === 'string') {
    const max = schema.maxLength;
    // The API server counts characters (code points); JS length counts UTF-16 units, never fewer.
    if (typeof max === 'number' && value.length > max) {
      const chars = Array.from(value);
      if (chars.length <= max) return value;
      const keep = Math.max(0, max - TRUNCATED_MARK.length);
      omitted.push(`${path || '.'}: ${chars.length} characters cut to ${max}`);
      return max > TRUNCATED_MARK.length
        ? chars.slice(0, keep).join('') + TRUNCATED_MARK
        : chars.slice(0, max).join('');
    }
    return value;
  }
  if (Array.isArray(value)) {
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY;
    const kept = value.length > max ? value.slice(0, max) : value;
    if (kept.length < value.length)
      omitted.push(`${path}: ${value.length - kept.length} of ${value.length} item(s) omitted`);
    const items = isObject(schema.items) ? schema.items : undefined;
    return kept.map((v, i) => walk(v, items, `${path}[${i}]`, omitted));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : undefined;
    const extra = isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
    const max = typeof schema.maxProperties === 'number' ? schema.maxProperties : Number.POSITIVE_INFINITY;
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (const k of keys.slice(0, max)) {
      const sub = props?.[k] ?? extra;
      out[k] = walk(value[k], sub, path ? `${path}.${k}` : k, omitted);
    }
    if (keys.length > max)
      omitted.push(`${path || '.'}: ${keys.length - max} of ${keys.length} key(s) omitted`);
    return out;
  }
  return value;
}

const statusSchemas = new Map<string, JsonSchema | undefined>();

/** The status schema of a kind, as its CRD has it (undefined for kinds this project does not own). */
export function statusSchema(kind: string): JsonSchema | undefined {
  if (!statusSchemas.has(kind)) {
    const info = kindInfo(kind);
    const props = info ? (openApiSchema(info).properties as Record<string, JsonSchema>) : undefined;
    statusSchemas.set(kind, props?.status);
  }
  return statusSchemas.get(kind);
}

/** Clamps a status of `kind` to its CRD's bounds. */
export function clampStatus<T>(kind: string, status: T): ClampResult<T> {
  const schema = statusSchema(kind);
  return schema ? clampToSchema(status, schema, 'status') : { value: status, omitted: [] };
}
