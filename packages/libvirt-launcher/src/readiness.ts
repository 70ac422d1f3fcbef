/** Readiness of a guest: its `remora remoted` answers an authenticated handshake. */
import net from 'node:net';
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

function target(address: string): net.NetConnectOpts {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!m)
    throw new InvalidConfigError(
      'address',
      `expected host:port or unix:/path, got ${JSON.stringify(address)}`,
    );
  return { host: m[1], port: Number(m[2]) };
}

/** Whether something accepts connections at `address` (one attempt, bounded). */
function accepts(address: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target(address));
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Wait until the daemon at `address` accepts a connection and answers an
 * authenticated handshake, within `timeoutMs` (Pacemaker's
 * remote-connect-timeout). The port is probed every 20 ms first, so the
 * handshake starts as soon as the daemon listens. Throws
 * GuestTimeoutError (no answer in time) or the transport's
 * AuthenticationError (wrong key) / ProtocolError (other version).
 */
export async function waitForRemoted(options: RemotedReadyOptions): Promise<RemotedReady> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = started + timeoutMs;
  const guest = options.guest ?? options.address;
  target(options.address);
  const timeout = (detail: string, cause?: unknown): GuestTimeoutError =>
    new GuestTimeoutError(
      guest,
      Date.now() - started,
      `remote daemon at ${options.address} not ready within remote-connect-timeout ${timeoutMs} ms: ${detail}`,
      { cause },
    );
  while (!(await accepts(options.address, Math.max(50, Math.min(1000, deadline - Date.now()))))) {
    if (options.signal?.aborted) throw timeout('aborted');
    if (Date.now() + 20 > deadline) throw timeout('nothing accepts connections there');
    await sleep(20);
  }
  try {
    const client = await RemoteClient.connect(
      {
        address: options.address,
        authKey: options.authKey,
        clientName: 'libvirt-launcher readiness',
        connectTimeoutMs: Math.max(200, deadline - Date.now()),
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
    throw timeout((err as Error).message, err);
  }
}
