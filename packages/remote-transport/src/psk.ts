import { createHash, hkdfSync } from 'node:crypto';

/**
 * The TLS 1.3 pre-shared key every holder of an authkey derives on its own
 * (HKDF-SHA256 of the authkey), as pacemaker_remote authenticates with
 * TLS-PSK. Daemon and client both prove that they hold it inside the TLS
 * handshake: a client with another key fails the daemon's PSK binder check
 * and gets a TLS alert at once, and a daemon with another key cannot produce
 * the handshake's Finished message the client checks. The key exchange is
 * still ephemeral (EC)DHE (psk_dhe_ke), so traffic keeps forward secrecy.
 * HKDF is one-way: neither the key nor its fingerprint reveals the authkey.
 */
export interface PresharedKey {
  /** The PSK identity sent in the clear in the ClientHello (the same for every key). */
  readonly identity: string;
  /** 32 bytes. */
  readonly key: Buffer;
  /** First 8 bytes of SHA-256(key), hex: compare nodes' keys without showing them. */
  readonly fingerprint: string;
}

/** The PSK identity of this derivation (a daemon refuses others by name). */
export const PSK_IDENTITY = 'remora-authkey-v1';

const cache = new WeakMap<Buffer, PresharedKey>();

/** Derive the TLS pre-shared key of an authkey (cached per key buffer). */
export function derivePresharedKey(authKey: Buffer): PresharedKey {
  const cached = cache.get(authKey);
  if (cached) return cached;
  const key = Buffer.from(hkdfSync('sha256', authKey, 'remora-remote-tls', 'tls 1.3 psk v1', 32));
  const fingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const derived = { identity: PSK_IDENTITY, key, fingerprint };
  cache.set(authKey, derived);
  return derived;
}
