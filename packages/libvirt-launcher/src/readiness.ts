/** Readiness of a guest: its `remora remoted` answers an authenticated handshake. */
import { AuthenticationError, ProtocolError, RemoteClient } from '@remora/remote-transport';
import { GuestTimeoutError, InvalidConfigError } from './errors';

export interface RemotedReadyOptions {
  /** `host:port` or `unix:/path` of the guest's daemon. */
  readonly address: string;
  readonly authKey: Buffer;
  /** Pacemaker's `remote-connect-timeout` (default 60 s), ms. */
  readonly timeoutMs?: number;
  /** For error messages (default: the address). */
  readonly guest?: string;
  readonly signal?: AbortSignal;
}

export interface RemotedReady {
  /** The node name the daemon serves as. */
  readonly nodeName: string;
  /** From the call to the handshake's answer, ms. */
  readonly elapsedMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function checkAddress(address: string): void {
  if (!/^unix:\/.+$/.test(address) && !/^\[?[^\]\s]+?\]?:\d{1,5}$/.test(address)) {
    throw new InvalidConfigError(
      'address',
      `expected host:port or unix:/path, got ${JSON.stringify(address)}`,
    );
  }
}

/**
 * One connection attempt: a fresh channel each time, so no gRPC reconnect
 * back-off carries over. An attempt that ran out of time (a loaded machine,
 * a slow handshake) gets twice as long next time, up to 8 s.
 */
const FIRST_ATTEMPT_MS = 250;
const MAX_ATTEMPT_MS = 8000;

/**
 * Wait until the daemon at `address` answers an authenticated handshake,
 * within `timeoutMs` (Pacemaker's remote-connect-timeout). Tries every
 * 25 ms with a fresh connection (a guest's daemon is usually up within a
 * second; gRPC's own back-off would add up to a second). Throws
 * GuestTimeoutError (no answer in time) or the transport's
 * AuthenticationError (wrong key) / ProtocolError (other version).
 */
export async function waitForRemoted(options: RemotedReadyOptions): Promise<RemotedReady> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = started + timeoutMs;
  const guest = options.guest ?? options.address;
  checkAddress(options.address);
  let last: unknown;
  let attemptMs = FIRST_ATTEMPT_MS;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) {
      const detail = options.signal?.aborted
        ? 'aborted'
        : ((last as Error | undefined)?.message ?? 'no answer');
      throw new GuestTimeoutError(
        guest,
        Date.now() - started,
        `remote daemon at ${options.address} not ready within remote-connect-timeout ${timeoutMs} ms: ${detail}`,
        { cause: last },
      );
    }
    const attemptStarted = Date.now();
    try {
      const client = await RemoteClient.connect(
        {
          address: options.address,
          authKey: options.authKey,
          clientName: 'libvirt-launcher readiness',
          connectTimeoutMs: Math.min(left, attemptMs),
          reconnect: false,
          reconnectDelayMs: 25,
        },
        options.signal,
      );
      const nodeName = client.nodeName;
      await client.close();
      return { nodeName, elapsedMs: Date.now() - started };
    } catch (err) {
      if (err instanceof AuthenticationError || err instanceof ProtocolError) throw err;
      last = err;
      if (Date.now() - attemptStarted >= attemptMs)
        attemptMs = Math.min(MAX_ATTEMPT_MS, attemptMs * 2);
    }
    await sleep(Math.min(25, Math.max(0, deadline - Date.now())));
  }
}
