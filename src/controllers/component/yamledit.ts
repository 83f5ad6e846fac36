/**
 * YAML edits that keep everything else: the file observed on the firstbox is parsed as a yaml
 * Document (comments, key order and untouched values survive), only the named key paths are set,
 * and the resulting text is what a plan step writes. Pure; the same edit applied to its own
 * output yields the same text, so a re-computed plan keeps its hash.
 */
import { isMap, isScalar, parseDocument } from 'yaml';
import { patternRegExp } from '../../api/patterns.js';

/** A key path (`nf_server.notify_settings.system.enable_save_notifylog`) and the value it must hold. */
export interface YamlSetting {
  path: string[];
  value: unknown;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Flattens free-form overrides into key paths: nested objects are merged key by key (a dotted key
 * is a path too); anything else (scalars, lists) replaces the value at that path.
 */
export function flattenOverrides(overrides: Record<string, unknown>, field: string): YamlSetting[] {
  const out: YamlSetting[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string[]) => {
    for (const [key, value] of Object.entries(obj)) {
      if (!patternRegExp('YAML_KEY_PATH').test(key))
        throw new ConfigError(
          `${field}: key ${JSON.stringify(key)} is not a YAML key path (use identifiers joined by dots)`,
        );
      const path = [...prefix, ...key.split('.')];
      if (isPlainObject(value) && Object.keys(value).length > 0) walk(value, path);
      else out.push({ path, value });
    }
  };
  walk(overrides, []);
  return out;
}

/** Whether every setting already holds in `text` (a missing file holds none). */
export function settingsHold(text: string | undefined, settings: readonly YamlSetting[]): boolean {
  if (text === undefined) return settings.length === 0;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return false;
  return settings.every((s) => deepEqual(toJs(doc.getIn(s.path)), s.value));
}

/** `text` with every setting applied; a missing file starts empty. Throws ConfigError on a broken file. */
export function applySettings(
  text: string | undefined,
  settings: readonly YamlSetting[],
  what: string,
): string {
  const doc = parseDocument(text ?? '');
  if (doc.errors.length > 0)
    throw new ConfigError(
      `${what} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it by hand`,
    );
  if (doc.contents !== null && !isMap(doc.contents))
    throw new ConfigError(`${what} is not a YAML mapping; fix it by hand`);
  for (const s of settings) {
    if (deepEqual(toJs(doc.getIn(s.path)), s.value)) continue;
    // A scalar standing where a mapping must go is replaced, as an editor would.
    for (let i = 1; i < s.path.length; i++) {
      const parent = doc.getIn(s.path.slice(0, i), true);
      if (parent !== undefined && !isMap(parent)) doc.setIn(s.path.slice(0, i), doc.createNode({}));
    }
    const existing = doc.getIn(s.path, true);
    // A scalar keeps its node (and with it a trailing comment); anything else is replaced.
    if (isScalar(existing) && (s.value === null || typeof s.value !== 'object')) existing.value = s.value;
    else doc.setIn(s.path, doc.createNode(s.value));
  }
  return doc.toString();
}

function toJs(v: unknown): unknown {
  if (v && typeof v === 'object' && 'toJSON' in v && typeof (v as { toJSON: unknown }).toJSON === 'function')
    return (v as { toJSON(): unknown }).toJSON();
  return v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
