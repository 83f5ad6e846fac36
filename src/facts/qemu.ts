/** QEMU version from `kvm --version` / `qemu-system-x86_64 --version`. */

export interface QemuVersion {
  version: string;
  /** The distribution package version in the banner's parentheses, e.g. `1:2.5+dfsg-5ubuntu10.51`. */
  build: string | null;
}

/**
 * `QEMU emulator version 2.5.0 (Debian 1:2.5+dfsg-5ubuntu10.51), Copyright ...` (2.11 drops the
 * space before the parenthesis and puts the copyright on a second line). Returns null when the
 * text names no QEMU version: nodes other than hypervisors have no QEMU, which is not a problem.
 */
export function parseQemuVersion(text: string): QemuVersion | null {
  const m = /QEMU emulator version\s+(\d+(?:\.\d+)+)\s*(?:\(([^)]*)\))?/i.exec(text);
  if (!m?.[1]) return null;
  const build = m[2]?.trim().replace(/^Debian\s+/, '') || null;
  return { version: m[1], build };
}
