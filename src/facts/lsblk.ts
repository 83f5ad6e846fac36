/**
 * Block devices from lsblk, in the two shapes nodes print: JSON (`-J`, util-linux ≥ 2.27, Ubuntu
 * 16.04+) and `KEY="value"` pairs (`-P`, 14.04's util-linux 2.20). JSON values changed type in
 * util-linux 2.33 (`"rota":"1"` became `"rota":true`, `"size":"960197124096"` became a number),
 * and older lsblk may not know TRAN at all, so every field is coerced rather than trusted.
 */
import { classifyDevice } from './disks.js';
import { excerpt, FactsParseError } from './errors.js';
import type { BlockDevice, BlockDeviceType, Transport } from './types.js';

export interface LsblkResult {
  devices: BlockDevice[];
  problems: string[];
}

type Raw = Record<string, unknown>;

function normaliseType(t: string): BlockDeviceType {
  const v = t.toLowerCase();
  if (
    v === 'disk' ||
    v === 'part' ||
    v === 'rom' ||
    v === 'lvm' ||
    v === 'crypt' ||
    v === 'loop' ||
    v === 'mpath'
  )
    return v;
  if (/^raid\d*$/.test(v) || v === 'md' || v === 'linear') return 'raid';
  return 'other';
}

function normaliseTransport(t: unknown): Transport {
  if (typeof t !== 'string' || t.trim() === '') return null;
  const v = t.trim().toLowerCase();
  if (v === 'sata' || v === 'ata') return 'sata';
  if (v === 'nvme' || v === 'usb' || v === 'sas') return v;
  return 'other';
}

/** true/false, 1/0, "1"/"0", "true"/"false"; anything else is undefined (reported by the caller). */
function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === '1' || s === 'true') return true;
    if (s === '0' || s === 'false') return false;
  }
  return undefined;
}

const UNITS: Record<string, number> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

/** Bytes from a number, a digit string, or (if someone dropped `-b`) a human size like `931.5G`. */
function toBytes(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const m = /^(\d+(?:[.,]\d+)?)([BKMGTP])$/i.exec(s);
  if (!m?.[1] || !m[2]) return undefined;
  return Math.round(Number(m[1].replace(',', '.')) * (UNITS[m[2].toUpperCase()] ?? Number.NaN));
}

function toText(v: unknown): string {
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

function toDevice(raw: Raw, parent: string | null, problems: string[]): BlockDevice | undefined {
  const name = toText(raw.name).replace(/^\/dev\//, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._:+-]*$/.test(name)) {
    problems.push(`lsblk: skipped a device with an unusable name ${excerpt(toText(raw.name), 40)}`);
    return undefined;
  }
  const size = toBytes(raw.size);
  const rota = toBool(raw.rota);
  const rm = toBool(raw.rm);
  const bad = [size === undefined && 'size', rota === undefined && 'rota', rm === undefined && 'rm'].filter(
    Boolean,
  );
  if (bad.length > 0) problems.push(`lsblk: ${name}: unreadable ${bad.join(', ')}`);
  const mount = toText(raw.mountpoint);
  const device: Omit<BlockDevice, 'diskClass'> = {
    name,
    type: normaliseType(toText(raw.type)),
    sizeBytes: size ?? 0,
    rotational: rota ?? true,
    removable: rm ?? false,
    transport: normaliseTransport(raw.tran),
    model: toText(raw.model).replace(/\s+/g, ' '),
    parent,
    mountpoint: mount === '' ? null : mount,
  };
  return { ...device, diskClass: classifyDevice(device) };
}

function walkJson(nodes: unknown, parent: string | null, out: BlockDevice[], problems: string[]): void {
  if (!Array.isArray(nodes)) return;
  for (const n of nodes) {
    if (typeof n !== 'object' || n === null || Array.isArray(n)) {
      problems.push('lsblk: skipped a non-object entry in blockdevices');
      continue;
    }
    const raw = n as Raw;
    // util-linux ≥ 2.37 prints `mountpoints` (an array) beside or instead of `mountpoint`.
    if (raw.mountpoint == null && Array.isArray(raw.mountpoints)) {
      raw.mountpoint = raw.mountpoints.find((m) => typeof m === 'string') ?? null;
    }
    const dev = toDevice(raw, parent, problems);
    if (!dev) continue;
    out.push(dev);
    walkJson(raw.children, dev.name, out, problems);
  }
}

function parseJson(text: string): LsblkResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new FactsParseError('lsblk', `invalid JSON (${(err as Error).message})`);
  }
  const list = (doc as { blockdevices?: unknown } | null)?.blockdevices;
  if (!Array.isArray(list)) throw new FactsParseError('lsblk', 'JSON has no "blockdevices" array');
  const devices: BlockDevice[] = [];
  const problems: string[] = [];
  walkJson(list, null, devices, problems);
  return { devices, problems };
}

/** `KEY="value"` with lsblk's `\xHH` escapes for unsafe characters. */
function parsePairsLine(line: string): Raw | undefined {
  const raw: Raw = {};
  const re = /([A-Z][A-Z0-9:%-]*)="((?:[^"\\]|\\.)*)"/g;
  let found = false;
  for (const m of line.matchAll(re)) {
    found = true;
    const value = (m[2] ?? '')
      .replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
      .replace(/\\(.)/g, '$1');
    raw[(m[1] ?? '').toLowerCase()] = value;
  }
  return found ? raw : undefined;
}

// Types that start a new tree in pairs output; everything else hangs below the row before it.
const TOP_LEVEL = new Set<BlockDeviceType>(['disk', 'rom', 'loop']);

function parsePairs(text: string): LsblkResult {
  const devices: BlockDevice[] = [];
  const problems: string[] = [];
  // Pairs output is flat but printed in tree order. Without PKNAME we infer the parent: a
  // partition belongs to the last whole device, anything else (lvm, crypt, md) to the last
  // partition or device before it. Good enough to find which disk holds `/`.
  let lastTop: string | null = null;
  let lastContainer: string | null = null;
  let unparsed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const raw = parsePairsLine(line);
    if (!raw?.name) {
      unparsed++;
      continue;
    }
    const type = normaliseType(toText(raw.type));
    let parent: string | null;
    if (typeof raw.pkname === 'string') parent = raw.pkname.trim() || null;
    else if (TOP_LEVEL.has(type)) parent = null;
    else if (type === 'part') parent = lastTop;
    else parent = lastContainer;
    const dev = toDevice(raw, parent, problems);
    if (!dev) continue;
    devices.push(dev);
    if (TOP_LEVEL.has(type) || (type === 'raid' && parent === null)) lastTop = dev.name;
    if (type !== 'lvm') lastContainer = dev.name;
  }
  if (devices.length === 0) throw new FactsParseError('lsblk', `no KEY="value" lines (${excerpt(text)})`);
  if (unparsed > 0) problems.push(`lsblk: ignored ${unparsed} line(s) that were not KEY="value" pairs`);
  return { devices, problems };
}

/**
 * Parses either lsblk shape. Throws FactsParseError when the text is neither; problems with single
 * devices or fields are returned instead, so one odd device does not hide the others.
 */
export function parseLsblk(text: string): LsblkResult {
  const t = text.trim();
  if (t === '') throw new FactsParseError('lsblk', 'lsblk printed nothing');
  return t.startsWith('{') ? parseJson(t) : parsePairs(t);
}
