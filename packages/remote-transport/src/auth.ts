import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { writeFileAtomicNew } from './files';
import { ConfigurationError } from './errors';

/** Where the daemon and the CLI look for the authkey unless told otherwise. */
export const DEFAULT_AUTHKEY = '/etc/remora/authkey';

/**
 * The authkey file to use: the explicit option, else `$REMORA_AUTHKEY`, else
 * `$PCMK_authkey_location` (pacemaker_remote's variable), else /etc/remora/authkey.
 */
export function authKeyPath(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.REMORA_AUTHKEY || env.PCMK_authkey_location || DEFAULT_AUTHKEY;
}

/** Metadata key of the per-call token. */
export const AUTH_METADATA = 'x-remora-auth';
/** Tokens older or newer than this are refused (clock skew allowance), ms. */
export const TOKEN_WINDOW_MS = 5 * 60_000;
/** Pacemaker's authkey is 4096 random bytes; a shorter key is refused below this. */
export const MIN_AUTHKEY_BYTES = 32;

/** Generate a new authkey (4096 random bytes, as `dd if=/dev/urandom bs=4096 count=1` for pacemaker_remote). */
export function generateAuthKey(): Buffer {
  return randomBytes(4096);
}

/** Write a new authkey file, mode 0400; refuses to overwrite unless `force`. */
export async function writeAuthKey(file: string, key: Buffer, force = false): Promise<void> {
  await writeFileAtomicNew(file, key, force);
  await chmod(file, 0o400);
}

/** Read an authkey file, with clear errors for missing, empty, short or world-readable files. */
export async function readAuthKey(file: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigurationError(
      `authkey ${file}: ${code === 'ENOENT' ? 'does not exist (create one with `remora authkey generate`)' : `cannot be read (${code})`}`,
      { cause: err },
    );
  }
  if (key.length < MIN_AUTHKEY_BYTES) {
    throw new ConfigurationError(
      `authkey ${file}: ${key.length} bytes, at least ${MIN_AUTHKEY_BYTES} needed`,
    );
  }
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o004)
    throw new ConfigurationError(
      `authkey ${file}: readable by everyone (mode ${mode.toString(8)}); chmod 0400 it`,
    );
  return key;
}

function mac(key: Buffer, ts: string): Buffer {
  return createHmac('sha256', key).update(`remora-remote-v1:${ts}`).digest();
}

/** A fresh token for one call: `v1.<ms timestamp>.<hex HMAC-SHA256(authkey, timestamp)>`. */
export function makeToken(key: Buffer, now = Date.now()): string {
  const ts = String(now);
  return `v1.${ts}.${mac(key, ts).toString('hex')}`;
}

/** Check a token: right key, within the time window. Returns why not, or undefined when good. */
export function checkToken(
  key: Buffer,
  token: string | undefined,
  now = Date.now(),
): string | undefined {
  if (!token) return 'no authentication token';
  const m = /^v1\.(\d{1,16})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return 'malformed authentication token';
  const ts = m[1]!;
  if (Math.abs(now - Number(ts)) > TOKEN_WINDOW_MS)
    return 'authentication token outside the allowed clock skew (5 min)';
  const expected = mac(key, ts);
  const given = Buffer.from(m[2]!, 'hex');
  return timingSafeEqual(expected, given) ? undefined : 'wrong authkey';
}
