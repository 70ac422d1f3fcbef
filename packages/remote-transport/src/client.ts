import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ExecStatus, OcfRc } from '@remora/agent-runner';
import { AUTH_METADATA, makeToken } from './auth';
import type { RemoteRequest, RemoteResult } from './convert';
import { requestToWire, resultFromWire } from './convert';
import { eventFeed } from './event-feed';
import { PROTOCOL_MINOR, PROTOCOL_VERSION } from './daemon';
import {
  AuthenticationError,
  ConfigurationError,
  DisconnectedError,
  ProtocolError,
  TransportError,
} from './errors';
import type {
  Event,
  HandshakeReply,
  RelayCall,
  RelayResponse,
  SessionMessage,
} from './gen/remora/remote/v1/remote';
import { ExecutorClient, SessionRole } from './gen/remora/remote/v1/remote';
import type { TlsOptions } from './tls';
import { PresharedKeyCredentials, clientCredentials } from './tls';

export interface RemoteClientOptions {
  /** `host:port` or `unix:/path` of the daemon. */
  readonly address: string;
  /** The shared key: derives the TLS identity (unless `tls` is given) and signs every call. */
  readonly authKey: Buffer;
  /** Our name, for the daemon's logs and takeover notices. */
  readonly clientName?: string;
  /** A site PKI for mutual TLS instead of the identity derived from the authkey. */
  readonly tls?: TlsOptions;
  /**
   * `controller` (default): the active connection of a cluster — the newest
   * controller takes over from older ones, is asked to drain on shutdown,
   * and acknowledges results. `tool`: a standalone CLI client that only watches.
   */
  readonly role?: 'controller' | 'tool';
  /**
   * `auto` (default): results are acknowledged once handed to results()
   * readers; `manual`: call acknowledge(sequence) after recording them.
   */
  readonly acknowledge?: 'auto' | 'manual';
  /** Resume a daemon's result log from a position saved earlier (see `position`). */
  readonly resume?: ResultPosition;
  /** Largest message sent or accepted, bytes (default 4 MiB). */
  readonly maxMessageBytes?: number;
  /** How long connect() keeps trying, ms (default 10,000; Pacemaker's remote-connect-timeout is 60 s). */
  readonly connectTimeoutMs?: number;
  /** No heartbeat or result for this long = the daemon is down, ms (default 1,500). */
  readonly deadAfterMs?: number;
  /** Reconnect after a loss (default true); attempts every `reconnectDelayMs` (default 250, backing off to 2 s). */
  readonly reconnect?: boolean;
  readonly reconnectDelayMs?: number;
}

export type ConnectionState = 'connected' | 'down' | 'closed';

/** Where a client is in a daemon's result log. */
export interface ResultPosition {
  readonly bootId: string;
  readonly sequence: number;
}

/** What the daemon said about itself in the handshake. */
export interface DaemonInfo {
  readonly nodeName: string;
  readonly hostname: string;
  readonly daemonVersion: string;
  readonly protocol: string;
  /** Changes when the daemon restarts. */
  readonly bootId: string;
  /** The machine's boot id: changes when it reboots. */
  readonly hostBootId: string;
  /** Epoch ms. */
  readonly startedAt: number;
  /** At the handshake. */
  readonly uptimeMs: number;
  readonly limits: {
    readonly maxMessageBytes: number;
    readonly maxResources: number;
    readonly maxQueuedOperations: number;
  };
}

/** The daemon asks to drain its node before it exits (SIGTERM). */
export interface DrainRequest {
  readonly nodeName: string;
  readonly reason: string;
  /** The daemon exits after this long anyway, ms. */
  readonly deadlineMs: number;
}

/**
 * Answers a drain request: true = the controller moves or stops the node's
 * resources and then closes the connection; false = not managed (the
 * daemon exits at once). Without a handler the client refuses.
 */
export type DrainHandler = (request: DrainRequest) => boolean | Promise<boolean>;

/** A one-shot operation the daemon accepted; its result arrives on results(). */
export interface SubmittedOperation {
  readonly callId: number;
  readonly operationKey: string;
  readonly requestId: string;
  /** This request id had been accepted before (a retry): nothing new runs. */
  readonly duplicate: boolean;
}

/** A change of the connection's state. */
export interface ConnectionEvent {
  readonly state: ConnectionState;
  /** Epoch ms. */
  readonly at: number;
  readonly reason?: string;
  /** On `connected` after a loss: the daemon restarted (its earlier results and recurring operations are gone). */
  readonly restarted?: boolean;
  /** On `down`: another controller took over the daemon (no automatic reconnect; see reconnect()). */
  readonly takenOver?: boolean;
  /** Results the daemon dropped before we acknowledged them (its bounded log overflowed): [first, last]. */
  readonly lostResults?: readonly [number, number];
}

/** Answers CLI commands relayed from the remote node (see openRelay). */
export type RelayHandler = (call: RelayCall) => Promise<Omit<RelayResponse, 'id'>>;

function unary<Req, Res>(
  fn: (
    req: Req,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: Res) => void,
  ) => grpc.ClientUnaryCall,
  req: Req,
  md: grpc.Metadata,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const call = fn(req, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
      signal?.removeEventListener('abort', abort);
      if (err) reject(err);
      else resolve(res as Res);
    });
    const abort = (): void => call.cancel();
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Under a site PKI (grpc-js's own TLS), tell refusals and non-TLS peers
 * apart from ordinary connection failures by grpc-js's error text.
 */
function classifyPkiFailure(details: string): 'certificate' | 'psk-daemon' | 'plain' | undefined {
  if (/wrong version number|packet length too long|unknown protocol/i.test(details)) return 'plain';
  // A daemon with no certificate (authkey mode) fails a certificate handshake this way.
  if (/alert handshake failure/i.test(details)) return 'psk-daemon';
  if (
    /self[- ]signed certificate|unable to verify|certificate (verify|unknown|required)|unknown ca|bad certificate|decrypt error|Hostname\/IP does not match/i.test(
      details,
    )
  )
    return 'certificate';
  return undefined;
}

/**
 * The HTTP/2 ping timeout for a given watchdog limit: 4 times it, at least
 * 10 s (a transport the watchdog already gave up on is replaced anyway).
 */
function keepaliveTimeoutMs(deadAfterMs: number): number {
  return Math.max(10_000, 4 * deadAfterMs);
}

function isConnectionError(err: unknown): boolean {
  if (err instanceof DisconnectedError) return true;
  const code = (err as grpc.ServiceError).code;
  return (
    code === grpc.status.UNAVAILABLE ||
    code === grpc.status.DEADLINE_EXCEEDED ||
    code === grpc.status.CANCELLED
  );
}

/**
 * A connection to one remote daemon: handshake, operations, the result
 * stream, dead-peer detection (heartbeats every 500 ms; down after
 * `deadAfterMs` of silence) and reconnection with replay of the results
 * missed meanwhile.
 *
 * ```ts
 * await using client = await RemoteClient.connect({ address: '10.0.0.11:3121', authKey });
 * const r = await client.execute({ resourceId: 'web', agent: 'ocf:heartbeat:Dummy', action: 'start' });
 * ```
 */
export class RemoteClient implements AsyncDisposable {
  private grpcClient: ExecutorClient;
  private readonly makeChannel: () => ExecutorClient;
  /** The current channel's credentials (they keep why a handshake was refused). */
  private credentials: grpc.ChannelCredentials | undefined;
  private readonly events = new EventEmitter();
  private stateValue: ConnectionState = 'down';
  private bootId = '';
  private lastSequence = 0;
  private lastHeard = 0;
  private stream: grpc.ClientDuplexStream<SessionMessage, Event> | undefined;
  private readonly instance = randomUUID();
  private acked = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private drainHandler: DrainHandler | undefined;
  private takenOver = false;
  private lastTick = Date.now();
  private lostNotice: readonly [number, number] | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private relayHandler: RelayHandler | undefined;
  private relayStream: grpc.ClientDuplexStream<RelayResponse, RelayCall> | undefined;
  private info: HandshakeReply | undefined;

  private constructor(private readonly options: RemoteClientOptions) {
    const maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    if (options.resume) {
      this.bootId = options.resume.bootId;
      this.lastSequence = options.resume.sequence;
      this.acked = options.resume.sequence;
    }
    const { options: channelOptions } = clientCredentials(options.authKey, options.tls);
    this.makeChannel = () =>
      new ExecutorClient(options.address, this.freshCredentials(), {
        ...channelOptions,
        'grpc.max_receive_message_length': maxBytes,
        'grpc.max_send_message_length': maxBytes,
        // Dead-peer detection is the heartbeat watchdog's (deadAfterMs, aware of
        // our own event-loop stalls); HTTP/2 pings only clean up dead transports.
        // grpc-js times a ping with a plain timer: after a stall (a loaded host)
        // it fires before the ack waiting in the socket is read and drops a
        // live connection. So the ping timeout stays well beyond the watchdog's
        // judgement and never decides first.
        'grpc.keepalive_time_ms': 1000,
        'grpc.keepalive_timeout_ms': keepaliveTimeoutMs(options.deadAfterMs ?? 1500),
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
    this.grpcClient = this.makeChannel();
    this.events.setMaxListeners(0);
  }

  /**
   * Credentials of their own for each channel: grpc-js shares a subchannel
   * between channels whose credentials are equal, and the authkey's refuse to
   * connect again once the channel that used them has closed.
   */
  private freshCredentials(): grpc.ChannelCredentials {
    this.credentials = clientCredentials(this.options.authKey, this.options.tls).credentials;
    return this.credentials;
  }

  /**
   * Connect and handshake, retrying until `connectTimeoutMs`. Rejects with
   * AuthenticationError (wrong key), ProtocolError (other version) or
   * DisconnectedError (unreachable).
   */
  static async connect(options: RemoteClientOptions, signal?: AbortSignal): Promise<RemoteClient> {
    if (!Buffer.isBuffer(options.authKey) || options.authKey.length < 32) {
      throw new ConfigurationError('authKey: a Buffer of at least 32 bytes is required');
    }
    const client = new RemoteClient(options);
    try {
      await client.establish(options.connectTimeoutMs ?? 10_000, signal);
    } catch (err) {
      client.grpcClient.close();
      throw err;
    }
    client.watchdog = setInterval(() => client.checkAlive(), 100);
    return client;
  }

  /** The node name the daemon serves as. */
  get nodeName(): string {
    return this.info?.nodeName ?? '';
  }

  /** What the daemon reported in the latest handshake. */
  get daemon(): DaemonInfo {
    const i = this.info!;
    return {
      nodeName: i.nodeName,
      hostname: i.hostname,
      daemonVersion: i.daemonVersion,
      protocol: `${i.protocolVersion}.${i.protocolMinor}`,
      bootId: i.bootId,
      hostBootId: i.hostBootId,
      startedAt: i.startedAt,
      uptimeMs: i.uptimeMs,
      limits: {
        maxMessageBytes: i.maxMessageBytes,
        maxResources: i.maxResources,
        maxQueuedOperations: i.maxQueuedOperations,
      },
    };
  }

  /**
   * The latest notice that the daemon dropped results before we acknowledged
   * them ([first, last] sequence numbers; also sent as a state event).
   */
  get lostResults(): readonly [number, number] | undefined {
    return this.lostNotice;
  }

  /** The latest result received (save it to resume after a restart of this process, see `resume`). */
  get position(): ResultPosition {
    return { bootId: this.bootId, sequence: this.lastSequence };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get address(): string {
    return this.options.address;
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(AUTH_METADATA, makeToken(this.options.authKey));
    return md;
  }

  private async establish(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = this.options.reconnectDelayMs ?? 250;
    // Each attempt's deadline: 2 s, doubled (to 8 s) after an attempt that ran
    // out of time, so that a TLS handshake on a heavily loaded machine can
    // finish instead of being cut off and restarted again and again.
    let attemptMs = 2000;
    let lastError: unknown;
    for (;;) {
      if (signal?.aborted) throw new DisconnectedError(this.options.address, 'connect aborted');
      if (this.stateValue === 'closed')
        throw new DisconnectedError(this.options.address, 'client closed');
      try {
        const reply = await unary(
          this.grpcClient.handshake.bind(this.grpcClient),
          {
            protocolVersion: PROTOCOL_VERSION,
            protocolMinor: PROTOCOL_MINOR,
            clientName: this.options.clientName ?? '',
          },
          this.metadata(),
          Math.max(200, Math.min(attemptMs, deadline - Date.now())),
          signal,
        );
        if (reply.protocolVersion !== PROTOCOL_VERSION) {
          throw new ProtocolError(
            `${this.options.address} speaks protocol ${reply.protocolVersion}.${reply.protocolMinor}, we speak ${PROTOCOL_VERSION}.${PROTOCOL_MINOR}; upgrade the older side`,
          );
        }
        const restarted = this.bootId !== '' && reply.bootId !== this.bootId;
        if (this.bootId !== reply.bootId) {
          this.lastSequence = 0;
          this.acked = 0;
        }
        this.bootId = reply.bootId;
        this.info = reply;
        await this.openSession(Math.max(500, Math.min(2000, deadline - Date.now())));
        this.takenOver = false;
        this.openRelayStream();
        this.setState({ state: 'connected', at: Date.now(), restarted });
        return;
      } catch (err) {
        if (err instanceof TransportError && !(err instanceof DisconnectedError)) throw err;
        if ((err as grpc.ServiceError).code === grpc.status.FAILED_PRECONDITION) {
          throw new ProtocolError(
            `${this.options.address} refused us: ${(err as grpc.ServiceError).details}`,
            { cause: err },
          );
        }
        if ((err as grpc.ServiceError).code === grpc.status.UNAUTHENTICATED) {
          throw new AuthenticationError(
            `${this.options.address} refused us: ${(err as grpc.ServiceError).details}`,
            { cause: err },
          );
        }
        this.throwIfRefused(err);
        lastError = err;
        if ((err as grpc.ServiceError).code === grpc.status.DEADLINE_EXCEEDED) {
          // grpc-js has no TCP connect timeout: a connection attempt made while
          // packets were dropped (a cut link) hangs for minutes. Start afresh.
          this.grpcClient.close();
          this.grpcClient = this.makeChannel();
          attemptMs = Math.min(attemptMs * 2, 8000);
        }
      }
      if (Date.now() + delay > deadline) {
        const detail = (lastError as grpc.ServiceError | undefined)?.details ?? String(lastError);
        throw new DisconnectedError(
          this.options.address,
          `no answer within ${timeoutMs} ms (${detail})`,
          { cause: lastError },
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  /**
   * Throw the error a failed attempt deserves when retrying cannot help: the
   * TLS handshake was refused (wrong key, another PKI) or the peer is not a
   * TLS daemon. Plain connection failures return, to be retried.
   */
  private throwIfRefused(err: unknown): void {
    const address = this.options.address;
    const details = String((err as grpc.ServiceError).details ?? err);
    if (this.credentials instanceof PresharedKeyCredentials) {
      const refusal = this.credentials.takeRefusal();
      if (refusal?.kind === 'authentication')
        throw new AuthenticationError(`${address}: TLS handshake refused: ${refusal.message}`, {
          cause: err,
        });
      if (refusal) throw new ProtocolError(`${address}: ${refusal.message}`, { cause: err });
      return;
    }
    const failure = classifyPkiFailure(details);
    if (failure === 'certificate')
      throw new AuthenticationError(
        `${address}: TLS handshake refused: the daemon certificate is not signed by our CA or does not name it, or it refused ours (${details})`,
        { cause: err },
      );
    if (failure === 'psk-daemon')
      throw new AuthenticationError(
        `${address}: TLS handshake refused: the daemon accepts no certificate handshake (it authenticates with the authkey's pre-shared key: leave out the tls options) (${details})`,
        { cause: err },
      );
    if (failure === 'plain')
      throw new ProtocolError(
        `${address} does not speak TLS (an older remora remoted, or another service on that port)`,
        { cause: err },
      );
  }

  /** Open the session stream; resolves at the daemon's first event (it has registered us). */
  private openSession(timeoutMs: number): Promise<void> {
    this.stream?.cancel();
    this.lastHeard = Date.now();
    const stream = this.grpcClient.session(this.metadata());
    this.stream = stream;
    stream.write({
      kind: {
        $case: 'open',
        value: {
          afterSequence: this.lastSequence,
          bootId: this.bootId,
          clientName: this.options.clientName ?? '',
          clientInstance: this.instance,
          role: this.options.role === 'tool' ? SessionRole.TOOL : SessionRole.CONTROLLER,
        },
      },
    });
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      const timer = setTimeout(() => {
        stream.cancel();
        reject(new DisconnectedError(this.options.address, 'the daemon did not open our session'));
      }, timeoutMs);
      stream.on('data', (e: Event) => {
        this.lastHeard = Date.now();
        if (!opened) {
          opened = true;
          clearTimeout(timer);
          resolve();
        }
        if (this.stream === stream) this.onEvent(e, stream);
      });
      stream.on('error', (err: grpc.ServiceError) => {
        if (!opened) {
          opened = true;
          clearTimeout(timer);
          reject(err);
          return;
        }
        if (this.stream === stream && err.code !== grpc.status.CANCELLED)
          this.lost(`session failed: ${err.details}`);
      });
      stream.on('end', () => {
        if (!opened) {
          opened = true;
          clearTimeout(timer);
          reject(new DisconnectedError(this.options.address, 'the daemon ended our session'));
          return;
        }
        if (this.stream === stream) this.lost('the daemon ended the session');
      });
    });
  }

  private onEvent(e: Event, stream: grpc.ClientDuplexStream<SessionMessage, Event>): void {
    const kind = e.kind;
    if (!kind) return;
    switch (kind.$case) {
      case 'result': {
        const r = kind.value;
        if (r.sequence <= this.lastSequence) return;
        this.lastSequence = r.sequence;
        this.events.emit('result', resultFromWire(r));
        if (this.options.acknowledge !== 'manual') this.acknowledge(r.sequence);
        return;
      }
      case 'takeover':
        this.takenOver = true;
        this.lost(`${kind.value.byClient || 'another controller'} took over the connection`, true);
        return;
      case 'drain': {
        const request: DrainRequest = {
          nodeName: this.nodeName,
          reason: kind.value.reason,
          deadlineMs: kind.value.deadlineMs,
        };
        const handler = this.drainHandler;
        void (async (): Promise<[boolean, string]> => {
          if (!handler) return [false, 'the client has no drain handler (unmanaged)'];
          try {
            return [await handler(request), ''];
          } catch (err) {
            return [false, `the drain handler failed: ${String(err)}`];
          }
        })().then(([accept, reason]) =>
          stream.write({ kind: { $case: 'drainAnswer', value: { accept, reason } } }),
        );
        return;
      }
      case 'lost':
        this.lostNotice = [kind.value.firstLost, kind.value.lastLost];
        this.events.emit('state', {
          state: this.stateValue,
          at: Date.now(),
          reason: `the daemon dropped results ${kind.value.firstLost}-${kind.value.lastLost} before they were acknowledged (its log is full)`,
          lostResults: [kind.value.firstLost, kind.value.lastLost],
        } satisfies ConnectionEvent);
        return;
      case 'heartbeat':
        return;
    }
  }

  /**
   * Tell the daemon that results up to `sequence` are recorded: it forgets
   * them. Automatic unless the client was created with `acknowledge: 'manual'`.
   */
  acknowledge(sequence: number): void {
    if (sequence <= this.acked) return;
    this.acked = sequence;
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      this.stream?.write({ kind: { $case: 'ack', value: { sequence: this.acked } } });
    }, 20);
  }

  /** Answer the daemon's drain requests (graceful shutdown of its node); see DrainHandler. */
  onDrainRequest(handler: DrainHandler | undefined): void {
    this.drainHandler = handler;
  }

  private checkAlive(): void {
    const now = Date.now();
    const stalled = now - this.lastTick > 400;
    this.lastTick = now;
    // If this process was blocked (busy event loop, CPU starvation), heartbeats
    // may be waiting unread in the socket: read them before judging the peer.
    if (stalled || this.stateValue !== 'connected') return;
    const silence = Date.now() - this.lastHeard;
    if (silence > (this.options.deadAfterMs ?? 1500)) this.lost(`no heartbeat for ${silence} ms`);
  }

  private lost(reason: string, takenOver = false): void {
    if (this.stateValue !== 'connected') return;
    this.stream?.cancel();
    this.stream = undefined;
    this.relayStream?.cancel();
    this.relayStream = undefined;
    this.setState({ state: 'down', at: Date.now(), reason, ...(takenOver ? { takenOver } : {}) });
    if ((this.options.reconnect ?? true) && !takenOver) this.startReconnecting();
  }

  /** Connect again after a takeover (this controller becomes the active one again). */
  async reconnect(signal?: AbortSignal): Promise<void> {
    if (this.stateValue === 'connected') return;
    if (this.stateValue === 'closed')
      throw new DisconnectedError(this.options.address, 'client closed');
    await this.reconnecting;
    if ((this.stateValue as ConnectionState) === 'connected') return;
    await this.establish(this.options.connectTimeoutMs ?? 10_000, signal);
  }

  private startReconnecting(): void {
    this.reconnecting ??= (async () => {
      let reported = '';
      while (this.stateValue === 'down' && !this.takenOver) {
        try {
          await this.establish(2000);
        } catch (err) {
          // Keep trying whatever answers meanwhile (a refused key, an impostor
          // or a proxy on a misrouted network, an older daemon being
          // upgraded); report each new reason once.
          const reason = err instanceof Error ? err.message : String(err);
          if (
            (err instanceof AuthenticationError || err instanceof ProtocolError) &&
            reason !== reported
          ) {
            reported = reason;
            this.setState({ state: 'down', at: Date.now(), reason });
          }
          if (!(err instanceof DisconnectedError)) await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })().finally(() => (this.reconnecting = undefined));
  }

  private setState(event: ConnectionEvent): void {
    this.stateValue = event.state;
    this.events.emit('state', event);
  }

  /** Connection state changes from now on (ends on close()). */
  states(signal?: AbortSignal): AsyncIterable<ConnectionEvent> {
    return eventFeed<ConnectionEvent>(this.events, 'state', signal);
  }

  /** Every operation result the daemon reports (one-shot and recurring), in order, none lost across reconnects. */
  results(signal?: AbortSignal): AsyncIterable<RemoteResult> {
    return eventFeed<RemoteResult>(this.events, 'result', signal);
  }

  private async whenConnected(signal?: AbortSignal): Promise<void> {
    if (this.stateValue === 'connected') return;
    if (this.stateValue === 'closed')
      throw new DisconnectedError(this.options.address, 'client closed');
    for await (const e of this.states(signal)) {
      if (e.state === 'connected') return;
      if (e.state === 'closed') break;
    }
    throw new DisconnectedError(
      this.options.address,
      signal?.aborted ? 'aborted while disconnected' : 'client closed',
    );
  }

  private async call<T>(run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      await this.whenConnected(signal);
      try {
        return await run();
      } catch (err) {
        if ((err as grpc.ServiceError).code === grpc.status.UNAUTHENTICATED) {
          throw new AuthenticationError(
            `${this.options.address}: ${(err as grpc.ServiceError).details}`,
            { cause: err },
          );
        }
        const code = (err as grpc.ServiceError).code;
        if (
          code === grpc.status.INVALID_ARGUMENT ||
          code === grpc.status.RESOURCE_EXHAUSTED ||
          code === grpc.status.FAILED_PRECONDITION ||
          code === grpc.status.INTERNAL
        ) {
          throw new TransportError(
            `${this.options.address}: ${(err as grpc.ServiceError).details}`,
            { cause: err },
          );
        }
        if (signal?.aborted)
          throw new DisconnectedError(this.options.address, 'aborted', { cause: err });
        if (!isConnectionError(err) || this.stateValue === 'closed') throw err;
        this.lost((err as grpc.ServiceError).details);
      }
    }
  }

  /**
   * Run a one-shot operation on the remote node and wait for its result. A
   * connection lost meanwhile is retried with the same request id (never run
   * twice). If the daemon restarted meanwhile, the outcome is unknown: the
   * result says so (exec status `error`, rc ERR_GENERIC), as Pacemaker
   * records a lost operation.
   */
  async execute(
    request: RemoteRequest,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<RemoteResult> {
    const requestId = request.requestId ?? randomUUID();
    const wire = requestToWire(request, requestId);
    const boot = this.bootId;
    const deadline = (request.timeout ?? 20_000) + 30_000;
    return this.call(async () => {
      if (this.bootId !== boot) {
        return {
          sequence: 0,
          requestId,
          callId: 0,
          resourceId: request.resourceId,
          agent: wire.agent,
          action: request.action,
          interval: 0,
          operationKey: `${request.resourceId}_${request.action}_0`,
          rc: OcfRc.ERR_GENERIC,
          execStatus: ExecStatus.error,
          exitReason: `the remote daemon on ${this.nodeName} restarted during the operation; its outcome is unknown`,
          exitCode: null,
          signal: null,
          stdout: '',
          stderr: '',
          startTime: Date.now(),
          runTime: 0,
          queueTime: 0,
        } satisfies RemoteResult;
      }
      const r = await unary(
        this.grpcClient.execute.bind(this.grpcClient),
        wire,
        this.metadata(),
        deadline,
        options.signal,
      );
      return resultFromWire(r);
    }, options.signal);
  }

  /**
   * Hand a one-shot operation to the daemon: acknowledged at once with a
   * call id; the result arrives on results() (match `requestId` or `callId`).
   * A retry after a lost connection reuses the request id: never run twice.
   */
  submit(
    request: RemoteRequest,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<SubmittedOperation> {
    const wire = requestToWire(request, request.requestId ?? randomUUID());
    return this.call(
      () =>
        unary(
          this.grpcClient.submit.bind(this.grpcClient),
          wire,
          this.metadata(),
          10_000,
          options.signal,
        ),
      options.signal,
    );
  }

  /** Start a recurring operation; its results come through results(). A duplicate request is merged. */
  recur(
    request: RemoteRequest,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<{ readonly callId: number; readonly operationKey: string }> {
    const wire = requestToWire(request, request.requestId ?? randomUUID());
    return this.call(
      () =>
        unary(
          this.grpcClient.recur.bind(this.grpcClient),
          wire,
          this.metadata(),
          10_000,
          options.signal,
        ),
      options.signal,
    );
  }

  /** Cancel a recurring operation; false when none was active. */
  async cancel(
    resourceId: string,
    action: string,
    interval: number,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<boolean> {
    const r = await this.call(
      () =>
        unary(
          this.grpcClient.cancel.bind(this.grpcClient),
          { resourceId, action, intervalMs: interval },
          this.metadata(),
          10_000,
          options.signal,
        ),
      options.signal,
    );
    return r.cancelled;
  }

  /** Cancel a queued or running one-shot operation, or a recurring one, by call id; false when unknown or finished. */
  async cancelCall(
    callId: number,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<boolean> {
    const r = await this.call(
      () =>
        unary(
          this.grpcClient.cancelCall.bind(this.grpcClient),
          { callId },
          this.metadata(),
          10_000,
          options.signal,
        ),
      options.signal,
    );
    return r.cancelled;
  }

  /** Forget a resource on the daemon (its recurring operations cancelled, its history dropped); false if unknown. */
  async unregister(
    resourceId: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<boolean> {
    const r = await this.call(
      () =>
        unary(
          this.grpcClient.unregister.bind(this.grpcClient),
          { resourceId },
          this.metadata(),
          10_000,
          options.signal,
        ),
      options.signal,
    );
    return r.known;
  }

  /**
   * One round trip to the daemon on the open connection (a handshake: nothing
   * runs there), as Pacemaker's controller pokes a remote node to monitor
   * its connection. Resolves with the round trip's time in ms; rejects with
   * DisconnectedError when the connection is not up or no answer came
   * within `timeoutMs`. It does not change the connection's state: what a
   * missing answer means is the caller's to decide.
   */
  async ping(timeoutMs: number, signal?: AbortSignal): Promise<number> {
    if (this.stateValue !== 'connected')
      throw new DisconnectedError(this.options.address, `not connected (${this.stateValue})`);
    const started = Date.now();
    try {
      await unary(
        this.grpcClient.handshake.bind(this.grpcClient),
        {
          protocolVersion: PROTOCOL_VERSION,
          protocolMinor: PROTOCOL_MINOR,
          clientName: this.options.clientName ?? '',
        },
        this.metadata(),
        timeoutMs,
        signal,
      );
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      throw new DisconnectedError(
        this.options.address,
        code === grpc.status.DEADLINE_EXCEEDED
          ? `no answer to a ping within ${timeoutMs} ms`
          : `ping failed: ${(err as grpc.ServiceError).details ?? (err as Error).message}`,
        { cause: err },
      );
    }
    return Date.now() - started;
  }

  /** An agent's meta-data XML, from the remote node. */
  async metaData(agent: string, options: { readonly signal?: AbortSignal } = {}): Promise<string> {
    return (
      await this.call(
        () =>
          unary(
            this.grpcClient.metaData.bind(this.grpcClient),
            { agent },
            this.metadata(),
            30_000,
            options.signal,
          ),
        options.signal,
      )
    ).xml;
  }

  /** Agent classes (no argument), OCF providers (`'providers'`), or the agents of a class on the remote node. */
  async listAgents(
    agentClass = '',
    provider = '',
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<string[]> {
    return (
      await this.call(
        () =>
          unary(
            this.grpcClient.listAgents.bind(this.grpcClient),
            { agentClass, provider },
            this.metadata(),
            30_000,
            options.signal,
          ),
        options.signal,
      )
    ).names;
  }

  /**
   * Answer CLI commands run on the remote node (`remora status` there etc.):
   * the daemon forwards them here; the stream is re-opened after reconnects.
   */
  openRelay(handler: RelayHandler): void {
    this.relayHandler = handler;
    this.openRelayStream();
  }

  private openRelayStream(): void {
    const handler = this.relayHandler;
    if (!handler || this.stateValue === 'closed') return;
    this.relayStream?.cancel();
    const stream = this.grpcClient.relay(this.metadata());
    this.relayStream = stream;
    stream.on('data', (call: RelayCall) => {
      handler(call).then(
        (r) => stream.write({ ...r, id: call.id }),
        (err: unknown) =>
          stream.write({
            id: call.id,
            exitCode: 70,
            stdout: '',
            stderr: `internal error: ${String(err)}`,
          }),
      );
    });
    stream.on('error', () => undefined);
  }

  /** Close the connection; result and state feeds end. Idempotent. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
      this.stream?.write({ kind: { $case: 'ack', value: { sequence: this.acked } } });
    }
    this.setState({ state: 'closed', at: Date.now() });
    this.stream?.end();
    this.stream?.cancel();
    this.relayStream?.cancel();
    await this.reconnecting?.catch(() => undefined);
    this.grpcClient.close();
    this.events.emit('closed');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
