/**
 * OS name and version from `lsb_release -ds` and `/etc/os-release`. The runbooks state rules on
 * point releases (R3: "≥ Ubuntu 14.04.5"), and 14.04's os-release only has `VERSION_ID="14.04"`
 * while lsb_release says `Ubuntu 14.04.5 LTS`, so we take the most precise version the two agree on.
 */
import { FactsParseError } from './errors.js';
import type { OsFacts } from './types.js';

/** KEY=value lines with shell-style quoting, as os-release(5) defines them. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1]) continue;
    let value = m[2] ?? '';
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[m[1]] = value;
  }
  return out;
}

const VERSION_IN_TEXT = /(\d+(?:\.\d+)+)/;

function stripQuotes(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

/** `Trusty Tahr` from `14.04.5 LTS, Trusty Tahr` or `16.04.5 LTS (Xenial Xerus)` → `trusty`. */
function codenameFromVersion(version: string): string | undefined {
  const m = /\(([A-Za-z]+)[^)]*\)|,\s*([A-Za-z]+)/.exec(version);
  const word = m?.[1] ?? m?.[2];
  return word ? word.toLowerCase() : undefined;
}

function isPrefix(short: string, long: string): boolean {
  return long === short || long.startsWith(`${short}.`);
}

export interface OsParseResult {
  os: OsFacts;
  problems: string[];
}

/**
 * Either input may be null or empty (lsb_release is absent on minimal images; very old systems
 * lack os-release). Throws FactsParseError only when neither names a version.
 */
export function parseOs(lsbDescription: string | null, osReleaseText: string | null): OsParseResult {
  const problems: string[] = [];
  const lsb = stripQuotes(lsbDescription?.split('\n').find((l) => l.trim() !== '') ?? '');
  const rel = parseOsRelease(osReleaseText ?? '');

  const lsbVersion = VERSION_IN_TEXT.exec(lsb)?.[1];
  const lsbName = lsbVersion ? lsb.slice(0, lsb.indexOf(lsbVersion)).trim() : '';
  // Only a numeric VERSION_ID can anchor the comparison (Debian testing has none at all).
  const relVersionId = /^\d+(?:\.\d+)*/.exec(rel.VERSION_ID?.trim() ?? '')?.[0];
  const relVersion = rel.VERSION ? VERSION_IN_TEXT.exec(rel.VERSION)?.[1] : undefined;

  // The most precise candidate that agrees with VERSION_ID (the field os-release guarantees).
  const candidates = [lsbVersion, relVersion, relVersionId].filter((v): v is string => !!v && /^\d/.test(v));
  if (candidates.length === 0) {
    throw new FactsParseError(
      'os',
      'neither lsb_release -ds nor /etc/os-release names a version' +
        (lsb ? ` (lsb_release said ${JSON.stringify(lsb.slice(0, 60))})` : ''),
    );
  }
  let version = candidates[0]!;
  if (relVersionId) {
    const agreeing = candidates.filter((c) => isPrefix(relVersionId, c));
    if (agreeing.length < candidates.length) {
      problems.push(
        `os: lsb_release (${lsbVersion ?? 'none'}) and /etc/os-release (${relVersionId}) disagree; using os-release`,
      );
    }
    version = agreeing.reduce(
      (best, c) => (c.split('.').length > best.split('.').length ? c : best),
      relVersionId,
    );
  } else {
    version = candidates.reduce((best, c) => (c.split('.').length > best.split('.').length ? c : best));
  }

  const name = rel.NAME?.trim() || lsbName || 'unknown';
  const description = lsb || rel.PRETTY_NAME?.trim() || `${name} ${version}`;
  const codename =
    rel.VERSION_CODENAME?.trim() ||
    rel.UBUNTU_CODENAME?.trim() ||
    (rel.VERSION ? codenameFromVersion(rel.VERSION) : undefined);
  const os: OsFacts = { name, version, description };
  if (codename) os.codename = codename;
  return { os, problems };
}
