/** Small helpers shared by the domain XML builders: escaping and input checks. */
import { isAbsolute } from 'node:path';
import { InvalidConfigError } from './errors';

export function esc(value: string | number): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<tag attr="v">text</tag>`; attributes with undefined values are left out. */
export function el(
  tag: string,
  attrs: Readonly<Record<string, string | number | undefined>>,
  body?: string,
): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v as string | number)}"`)
    .join('');
  return body === undefined ? `<${tag}${a}/>` : `<${tag}${a}>${body}</${tag}>`;
}

/** Indent every line of `lines` by `n` spaces and join. */
export function block(n: number, lines: readonly string[]): string {
  const pad = ' '.repeat(n);
  return lines.map((l) => pad + l).join('\n');
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

export function checkName(field: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidConfigError(
      field,
      `${JSON.stringify(name)} is not a usable domain name (1-64 of A-Z a-z 0-9 _ . + -, starting with a letter or digit)`,
    );
  }
  return name;
}

export function checkPositiveInt(
  field: string,
  value: unknown,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw new InvalidConfigError(
      field,
      `expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function checkAbsolutePath(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isAbsolute(value) || value.includes('\0')) {
    throw new InvalidConfigError(field, `expected an absolute path, got ${JSON.stringify(value)}`);
  }
  return value;
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

export function checkMac(field: string, value: unknown): string {
  if (typeof value !== 'string' || !MAC.test(value)) {
    throw new InvalidConfigError(
      field,
      `expected a MAC address like 52:54:00:12:34:56, got ${JSON.stringify(value)}`,
    );
  }
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) {
    throw new InvalidConfigError(
      field,
      `${value} is a multicast MAC address (first octet must be even)`,
    );
  }
  return value.toLowerCase();
}

export function checkIpv4(field: string, value: unknown): string {
  const parts = typeof value === 'string' ? value.split('.') : [];
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new InvalidConfigError(
      field,
      `expected an IPv4 address like 10.213.0.11, got ${JSON.stringify(value)}`,
    );
  }
  return value as string;
}

/** `10.213.0.11/24` -> address and prefix. */
export function parseCidr(field: string, value: unknown): { address: string; prefix: number } {
  const m = typeof value === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(value) : null;
  if (!m || Number(m[2]) > 32) {
    throw new InvalidConfigError(
      field,
      `expected an IPv4 address with prefix like 10.213.0.11/24, got ${JSON.stringify(value)}`,
    );
  }
  return { address: checkIpv4(field, m[1]), prefix: Number(m[2]) };
}

export function checkUuid(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$/i.test(value)) {
    throw new InvalidConfigError(field, `expected a UUID, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A stable, locally administered MAC address derived from a name (52:54:00 is
 * libvirt's prefix): the same guest gets the same MAC on every start, so peers'
 * ARP caches stay right across restarts.
 */
export function macFromName(name: string): string {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const b = [(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return `52:54:00:${b.map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}
