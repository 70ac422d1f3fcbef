import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  sign,
} from 'node:crypto';

/**
 * The TLS identity every holder of an authkey can derive on its own: an
 * Ed25519 key pair from HKDF-SHA256(authkey) and a self-signed certificate
 * over it. Ed25519 signatures are deterministic and every field is fixed, so
 * the daemon and each client build byte-identical certificates: the daemon
 * serves it and requires it from clients, and both trust only it. Completing
 * the TLS handshake therefore proves knowledge of the authkey on both sides;
 * no PKI is needed. (HKDF is one-way: the certificate reveals nothing about
 * the key.)
 */
export interface DerivedIdentity {
  /** PEM certificate (also the only trusted CA). */
  readonly cert: Buffer;
  /** PEM PKCS#8 private key. */
  readonly key: Buffer;
  /** SHA-256 fingerprint of the certificate, `AB:CD:...` as X509Certificate prints it. */
  readonly fingerprint256: string;
}

const SALT = Buffer.from('remora-remote-tls');
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const OID_ED25519 = '1.3.101.112';
const OID_CN = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** The name in the certificate; clients check the certificate itself, not a name. */
export const DERIVED_SERVER_NAME = 'remora-remote';

const cache = new WeakMap<Buffer, DerivedIdentity>();

/** Derive the TLS identity of an authkey (cached per key buffer). */
export function deriveIdentity(authKey: Buffer): DerivedIdentity {
  const cached = cache.get(authKey);
  if (cached) return cached;
  const okm = Buffer.from(hkdfSync('sha256', authKey, SALT, 'tls identity v1', 48));
  const seed = okm.subarray(0, 32);
  const serial = Buffer.from(okm.subarray(32, 48));
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, no leading zero byte
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const tag = createHash('sha256').update(spki).digest('hex').slice(0, 16);
  const name = seq(set(seq(oid(OID_CN), utf8(`remora authkey ${tag}`))));
  const algorithm = seq(oid(OID_ED25519));
  const extensions = explicit(
    3,
    seq(
      seq(oid(OID_BASIC_CONSTRAINTS), bool(true), octets(seq(bool(true)))),
      // digitalSignature (bit 0) + keyCertSign (bit 5)
      seq(oid(OID_KEY_USAGE), bool(true), octets(bitString(Buffer.from([0x84]), 2))),
      seq(oid(OID_SUBJECT_ALT_NAME), octets(seq(tlv(0x82, Buffer.from(DERIVED_SERVER_NAME))))),
    ),
  );
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    name,
    seq(tlv(0x17, Buffer.from('000101000000Z')), tlv(0x18, Buffer.from('99991231235959Z'))),
    name,
    spki,
    extensions,
  );
  const signature = sign(null, tbs, privateKey);
  const der = seq(tbs, algorithm, bitString(signature, 0));
  const identity: DerivedIdentity = {
    cert: Buffer.from(pem('CERTIFICATE', der)),
    key: Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
    fingerprint256: new X509Certificate(der).fingerprint256,
  };
  cache.set(authKey, identity);
  return identity;
}

// ---- a minimal DER writer (only what the certificate above needs) --------

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else if (n < 0x10000) len = Buffer.from([0x82, n >> 8, n & 0xff]);
  else throw new RangeError('DER element too long');
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}
function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}
function explicit(n: number, body: Buffer): Buffer {
  return tlv(0xa0 + n, body);
}
function integer(value: Buffer): Buffer {
  return tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}
function bool(v: boolean): Buffer {
  return tlv(0x01, Buffer.from([v ? 0xff : 0]));
}
function octets(body: Buffer): Buffer {
  return tlv(0x04, body);
}
function utf8(s: string): Buffer {
  return tlv(0x0c, Buffer.from(s, 'utf8'));
}
function bitString(bits: Buffer, unused: number): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bits]));
}
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = p >> 7; v > 0; v >>= 7) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}
function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END ${label}-----\n`;
}
