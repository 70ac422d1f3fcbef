/** Start a guest and wait until its remote daemon is ready; stop it reliably. */
import type { LibvirtConnection } from './connection';
import type { Domain, ShutdownOptions, StopOutcome } from './domain';
import { GuestStoppedError } from './errors';
import type { RemotedReady } from './readiness';
import { waitForRemoted } from './readiness';
import { DomainState, isActive } from './state';

/** Where the guest's `remora remoted` answers, and how long it may take. */
export interface GuestRemote {
  /** `host:port` or `unix:/path` (e.g. a PrivateLibvirtd.forward() socket). */
  readonly address: string;
  readonly authKey: Buffer;
  /** Pacemaker's remote-connect-timeout, ms (default 60,000). */
  readonly connectTimeoutMs?: number;
}

export interface LaunchOptions {
  readonly connection: LibvirtConnection;
  /** The domain XML (from a builder or a file's content). */
  readonly xml: string;
  /** `define` then `start` (true, the default) or `create` a transient domain (false). */
  readonly persistent?: boolean;
  /** Wait for the guest's remote daemon; without it, ready = running. */
  readonly remote?: GuestRemote;
  /** On failure (start or readiness), destroy and undefine what was created (default true). */
  readonly cleanupOnFailure?: boolean;
  readonly signal?: AbortSignal;
}

/** A started guest. */
export interface LaunchedGuest {
  readonly domain: Domain;
  /** From the call until libvirt reported it started, ms. */
  readonly startedMs: number;
  /** From the call until the remote daemon answered the handshake, ms (when `remote` was given). */
  readonly readyMs?: number;
  /** The node name the guest's daemon serves as. */
  readonly nodeName?: string;
}

/**
 * Wait for the guest's remote daemon while watching the domain: fails at
 * once (GuestStoppedError) if the guest stops meanwhile, with GuestTimeoutError
 * after the remote-connect-timeout.
 */
export async function waitForGuestReady(
  domain: Domain,
  remote: GuestRemote,
  signal?: AbortSignal,
): Promise<RemotedReady> {
  const watch = new AbortController();
  const onAbort = (): void => watch.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) watch.abort();
  let stopped: GuestStoppedError | undefined;
  const watcher = (async () => {
    while (!watch.signal.aborted) {
      await new Promise((r) => setTimeout(r, 500));
      if (watch.signal.aborted) return;
      try {
        const { state, reason } = await domain.state();
        if (!isActive(state)) {
          stopped = new GuestStoppedError(
            domain.name,
            state,
            `the guest is ${state}${reason ? ` (${reason})` : ''} while waiting for its remote daemon at ${remote.address}`,
          );
          watch.abort();
        }
      } catch {
        // libvirt hiccup: the readiness timeout still bounds the wait
      }
    }
  })();
  try {
    return await waitForRemoted({
      address: remote.address,
      authKey: remote.authKey,
      timeoutMs: remote.connectTimeoutMs,
      guest: domain.name,
      signal: watch.signal,
    });
  } catch (err) {
    if (stopped) throw stopped;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    watch.abort();
    await watcher;
  }
}

/**
 * Define (or create) and start a guest, then wait until its remote daemon
 * answers an authenticated handshake.
 *
 * ```ts
 * const { domain, readyMs } = await launchGuest({ connection, xml, remote: { address, authKey } });
 * ```
 */
export async function launchGuest(options: LaunchOptions): Promise<LaunchedGuest> {
  const started = Date.now();
  const persistent = options.persistent ?? true;
  let domain: Domain | undefined;
  try {
    if (persistent) {
      domain = await options.connection.define(options.xml, { signal: options.signal });
      await domain.start(options.signal);
    } else {
      domain = await options.connection.create(options.xml, { signal: options.signal });
    }
    const startedMs = Date.now() - started;
    if (!options.remote) return { domain, startedMs };
    const ready = await waitForGuestReady(domain, options.remote, options.signal);
    return { domain, startedMs, readyMs: Date.now() - started, nodeName: ready.nodeName };
  } catch (err) {
    if (domain && (options.cleanupOnFailure ?? true)) {
      await domain.destroy().catch(() => false);
      if (persistent) await domain.undefine().catch(() => false);
    }
    throw err;
  }
}

/** Stop a guest (shutdown, then destroy after the timeout) and, unless `keepDefinition`, undefine it. */
export async function stopGuest(
  domain: Domain,
  options: ShutdownOptions & { readonly keepDefinition?: boolean } = {},
): Promise<StopOutcome> {
  const outcome = await domain.shutdown(options);
  if (!options.keepDefinition && outcome.state !== DomainState.ABSENT)
    await domain.undefine(options.signal);
  return outcome;
}
