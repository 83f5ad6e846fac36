/**
 * Version comparison and the rule helpers reconcilers use to state runbook prerequisites as code
 * ("installer ≥ 4.6", "zoocassa OS ≥ Ubuntu 14.04.5"). Two orderings exist on the platform:
 * dotted numeric versions (installer, OS, QEMU) and Debian package versions (`pitrix-*`).
 */
import type { FirstboxFacts, NodeFacts } from './types.js';

const DOTTED = /^v?(\d+(?:\.\d+)*)/;

/** The numeric components of a dotted version; anything after them (`-20200101`, ` LTS`) is ignored. */
export function parseDotted(version: string): number[] {
  const m = DOTTED.exec(version.trim());
  if (!m?.[1]) throw new RangeError(`not a dotted version: ${JSON.stringify(version)}`);
  return m[1].split('.').map(Number);
}

/**
 * Numeric, component-wise: `4.4.3` < `4.10`, `14.04.5` > `14.04`, and missing components count as
 * zero so `4.3` == `4.3.0`. Returns -1, 0 or 1. Throws RangeError on a non-version, because a rule
 * comparing against garbage is a bug, not a "no".
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const x = parseDotted(a);
  const y = parseDotted(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function versionAtLeast(actual: string, minimum: string): boolean {
  return compareVersions(actual, minimum) >= 0;
}

// dpkg's ordering of non-digit characters: `~` sorts before everything, even the end of the string;
// letters before other characters.
function charOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function compareDebianPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit prefix, compared with dpkg's character order.
    while ((i < a.length && !/\d/.test(a[i]!)) || (j < b.length && !/\d/.test(b[j]!))) {
      const ca = i < a.length && !/\d/.test(a[i]!) ? a[i] : undefined;
      const cb = j < b.length && !/\d/.test(b[j]!) ? b[j] : undefined;
      const d = charOrder(ca) - charOrder(cb);
      if (d !== 0) return d;
      if (ca !== undefined) i++;
      if (cb !== undefined) j++;
    }
    let na = '';
    let nb = '';
    while (i < a.length && /\d/.test(a[i]!)) na += a[i++];
    while (j < b.length && /\d/.test(b[j]!)) nb += b[j++];
    const d = Number(na || '0') - Number(nb || '0');
    if (d !== 0) return d;
  }
  return 0;
}

function splitDebian(v: string): { epoch: number; upstream: string; revision: string } {
  const s = v.trim();
  const colon = s.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(s.slice(0, colon)) ? Number(s.slice(0, colon)) : 0;
  const rest = colon > 0 && /^\d+$/.test(s.slice(0, colon)) ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return dash > 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

/** dpkg --compare-versions ordering (epoch, upstream, revision; `~` sorts early). Returns -1, 0 or 1. */
export function compareDebianVersions(a: string, b: string): -1 | 0 | 1 {
  const x = splitDebian(a);
  const y = splitDebian(b);
  const d =
    x.epoch - y.epoch ||
    compareDebianPart(x.upstream, y.upstream) ||
    compareDebianPart(x.revision, y.revision);
  return d === 0 ? 0 : d < 0 ? -1 : 1;
}

/** A rule's verdict with a sentence fit for a status condition message. */
export interface RuleResult {
  ok: boolean;
  message: string;
}

/** "OS is `name` at `minimum` or later", e.g. R3's `zoocassa` rule: `requireOs(f, 'Ubuntu', '14.04.5')`. */
export function requireOs(facts: Pick<NodeFacts, 'os'>, name: string, minimum: string): RuleResult {
  const { os } = facts;
  const have = `${os.name} ${os.version}`;
  if (os.name.toLowerCase() !== name.toLowerCase()) {
    return { ok: false, message: `OS is ${have}, not ${name}` };
  }
  let ok: boolean;
  try {
    ok = versionAtLeast(os.version, minimum);
  } catch {
    return {
      ok: false,
      message: `OS version ${JSON.stringify(os.version)} cannot be compared with ${minimum}`,
    };
  }
  return ok
    ? { ok, message: `OS ${have} ≥ ${name} ${minimum}` }
    : { ok, message: `OS ${have} is older than the required ${name} ${minimum}` };
}

export function osAtLeast(facts: Pick<NodeFacts, 'os'>, name: string, minimum: string): boolean {
  return requireOs(facts, name, minimum).ok;
}

/** Accepts the version string or the firstbox facts that carry it. */
export function installerAtLeast(
  installer: string | Pick<FirstboxFacts, 'installerVersion'>,
  minimum: string,
) {
  const v = typeof installer === 'string' ? installer : installer.installerVersion;
  return versionAtLeast(v, minimum);
}

/** False when QEMU is absent: a rule about QEMU only makes sense on nodes that run it. */
export function qemuAtLeast(facts: Pick<NodeFacts, 'qemuVersion'>, minimum: string): boolean {
  return facts.qemuVersion !== null && versionAtLeast(facts.qemuVersion, minimum);
}

/** False when the package is not installed. Uses Debian ordering. */
export function packageAtLeast(facts: Pick<NodeFacts, 'packages'>, pkg: string, minimum: string): boolean {
  const v = Object.hasOwn(facts.packages, pkg) ? facts.packages[pkg] : undefined;
  return v !== undefined && compareDebianVersions(v, minimum) >= 0;
}
