/**
 * The safe patterns every value that can reach a remote shell must match. One source for the
 * CRDs' OpenAPI `pattern`s (enforced by the API server), the operator's runtime validation and
 * the SSH command builder's checks. None of them admits a shell metacharacter, whitespace,
 * a quote, or a leading dash (which a remote command could read as an option).
 */

/** Zone and region ids: `pek3a`, `ap2a`, `gd2`. */
export const ZONE_ID = '^[a-z][a-z0-9-]{0,30}[a-z0-9]$';
/** IPv4 address, dotted quad with each octet 0-255. */
export const IPV4 =
  '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$';
/** IPv4 CIDR, e.g. `10.16.0.0/24`. */
export const IPV4_CIDR =
  '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$';
/** An IPv4 range `a.b.c.d-e.f.g.h` or a CIDR, for EIP pools. */
export const IPV4_RANGE =
  '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9])|-((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))?$';
/** DNS hostname (RFC 1123 labels), no trailing dot. */
export const HOSTNAME =
  '^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$';
/** A node address: an IPv4 address or a hostname. */
export const HOST = `(${IPV4})|(${HOSTNAME})`;
/** Block device name under /dev, without the prefix: `sdb`, `nvme0n1`, `vdc`, `md0`. */
export const DEVICE = '^[a-z][a-z0-9]{1,31}$';
/** Debian package name (pitrix packages): `pitrix-ks-proxy-tag`. */
export const PACKAGE = '^[a-z0-9][a-z0-9+.-]{1,99}$';
/** Debian package version: `4.6.2-20250101`, `1:2.5+dfsg-5ubuntu10`. */
export const PACKAGE_VERSION = '^[0-9][A-Za-z0-9.+~:-]{0,63}$';
/** A node id as the installer names nodes: `hyper3`, `pek3a-webservice1`. */
export const NODE_ID = '^[a-z][a-z0-9-]{0,62}$';
/** A dotted YAML key path: `common.enable_global_tag_server`. */
export const YAML_KEY_PATH = '^[A-Za-z_][A-Za-z0-9_-]*(\\.[A-Za-z_][A-Za-z0-9_-]*)*$';
/** A Unix user name for SSH. */
export const UNIX_USER = '^[a-z_][a-z0-9_-]{0,31}$';
/** OS version such as `16.04.5`, `18.04`. */
export const OS_VERSION = '^[0-9]+(\\.[0-9]+){0,3}$';
/** An OpenSSH SHA256 fingerprint as printed by `ssh-keygen -lf`: `SHA256:` + 43 base64 chars. */
export const SHA256_FINGERPRINT = '^SHA256:[A-Za-z0-9+/]{43}=?$';

/** An absolute path on firstbox without `..`, spaces or shell characters: `/pitrix/kernels/bionic.img`. */
export const FIRSTBOX_PATH = '^/([A-Za-z0-9_+-][A-Za-z0-9._+-]*/?)*$';
/** A Kubernetes object name (DNS-1123 subdomain), for Secret and Zone references. */
export const K8S_NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A key inside a Secret's data. */
export const SECRET_KEY = '^[-._a-zA-Z0-9]+$';
/** A Go-style duration made of whole units: `30s`, `5m`, `1h30m`. */
export const DURATION = '^([0-9]{1,6}(ms|s|m|h))+$';
/** A wall-clock time `HH:MM` (24 h). */
export const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
/** An IANA time zone name: `UTC`, `Asia/Shanghai`, `America/Argentina/Buenos_Aires`. */
export const TIMEZONE = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$';
/** An absolute URL path for an HTTP health check: no query, fragment, spaces or quotes. */
export const URL_PATH = '^/[A-Za-z0-9._~%/-]{0,255}$';
/** A supervisor program name (`ws_server`, `group:name`), as `supervisorctl status` prints it. */
export const SUPERVISOR_PROGRAM = '^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$';
/** An http(s) URL without credentials, query or fragment: `http://127.77.0.10:7777/healthz`. */
export const HTTP_URL = '^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$';

export const patterns = {
  ZONE_ID,
  IPV4,
  IPV4_CIDR,
  IPV4_RANGE,
  HOSTNAME,
  HOST,
  DEVICE,
  PACKAGE,
  PACKAGE_VERSION,
  NODE_ID,
  YAML_KEY_PATH,
  UNIX_USER,
  OS_VERSION,
  SHA256_FINGERPRINT,
  FIRSTBOX_PATH,
  K8S_NAME,
  SECRET_KEY,
  DURATION,
  HHMM,
  TIMEZONE,
  URL_PATH,
  SUPERVISOR_PROGRAM,
  HTTP_URL,
} as const;

export type PatternName = keyof typeof patterns;

const compiled = new Map<PatternName, RegExp>();
/** The compiled, anchored RegExp of a named pattern. */
export function patternRegExp(name: PatternName): RegExp {
  let re = compiled.get(name);
  if (!re) {
    const src = patterns[name];
    re = new RegExp(src.startsWith('^') ? src : `^(${src})$`);
    compiled.set(name, re);
  }
  return re;
}
