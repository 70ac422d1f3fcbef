import { randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ExecStatus, OcfRc } from '@remora/agent-runner';
import { AUTH_METADATA, makeToken } from './auth';
import type { RemoteRequest, RemoteResult } from './convert';
import { requestToWire, resultFromWire } from './convert';
import { PROTOCOL_VERSION } from './daemon';
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
} from './gen/remora/remote/v1/remote';
import { ExecutorClient } from './gen/remora/remote/v1/remote';
import type { TlsOptions } from './tls';
import { channelCredentials } from './tls';

export interface RemoteClientOptions {
  /** `host:port` or `unix:/path` of the daemon. */
  readonly address: string;
  readonly authKey: Buffer;
  /** Our name, for the daemon's logs. */
  readonly clientName?: string;
  readonly tls?: TlsOptions;
  /** How long connect() keeps trying, ms (default 10,000; Pacemaker's remote-connect-timeout is 60 s). */
  readonly connectTimeoutMs?: number;
  /** No heartbeat or result for this long = the daemon is down, ms (default 1,500). */
  readonly deadAfterMs?: number;
  /** Reconnect after a loss (default true); attempts every `reconnectDelayMs` (default 250, backing off to 2 s). */
  readonly reconnect?: boolean;
  readonly reconnectDelayMs?: number;
}

export type ConnectionState = 'connected' | 'down' | 'closed';

/** A change of the connection's state. */
export interface ConnectionEvent {
  readonly state: ConnectionState;
  /** Epoch ms. */
  readonly at: number;
  readonly reason?: string;
  /** On `connected` after a loss: the daemon restarted (its earlier results and recurring operations are gone). */
  readonly restarted?: boolean;
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

function isConnectionError(err: unknown): boolean {
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
  private readonly grpcClient: ExecutorClient;
  private readonly events = new EventEmitter();
  private stateValue: ConnectionState = 'down';
  private bootId = '';
  private lastSequence = 0;
  private lastHeard = 0;
  private stream: grpc.ClientReadableStream<Event> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private relayHandler: RelayHandler | undefined;
  private relayStream: grpc.ClientDuplexStream<RelayResponse, RelayCall> | undefined;
  private info: HandshakeReply | undefined;

  private constructor(private readonly options: RemoteClientOptions) {
    this.grpcClient = new ExecutorClient(options.address, channelCredentials(options.tls), {
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 1000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    this.events.setMaxListeners(0);
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
    let lastError: unknown;
    for (;;) {
      if (signal?.aborted) throw new DisconnectedError(this.options.address, 'connect aborted');
      if (this.stateValue === 'closed')
        throw new DisconnectedError(this.options.address, 'client closed');
      try {
        const reply = await unary(
          this.grpcClient.handshake.bind(this.grpcClient),
          { protocolVersion: PROTOCOL_VERSION, clientName: this.options.clientName ?? '' },
          this.metadata(),
          Math.max(200, Math.min(2000, deadline - Date.now())),
          signal,
        );
        if (reply.protocolVersion !== PROTOCOL_VERSION) {
          throw new ProtocolError(
            `${this.options.address} speaks protocol version ${reply.protocolVersion}, we speak ${PROTOCOL_VERSION}`,
          );
        }
        const restarted = this.bootId !== '' && reply.bootId !== this.bootId;
        if (this.bootId !== reply.bootId) this.lastSequence = 0;
        this.bootId = reply.bootId;
        this.info = reply;
        this.openEvents();
        this.openRelayStream();
        this.setState({ state: 'connected', at: Date.now(), restarted });
        return;
      } catch (err) {
        if (err instanceof TransportError) throw err;
        if ((err as grpc.ServiceError).code === grpc.status.UNAUTHENTICATED) {
          throw new AuthenticationError(
            `${this.options.address} refused us: ${(err as grpc.ServiceError).details}`,
            { cause: err },
          );
        }
        lastError = err;
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

  private openEvents(): void {
    this.stream?.cancel();
    this.lastHeard = Date.now();
    const stream = this.grpcClient.events(
      { afterSequence: this.lastSequence, bootId: this.bootId },
      this.metadata(),
    );
    this.stream = stream;
    stream.on('data', (e: Event) => {
      this.lastHeard = Date.now();
      if (e.kind?.$case === 'result') {
        const r = e.kind.value;
        if (r.sequence <= this.lastSequence) return;
        this.lastSequence = r.sequence;
        this.events.emit('result', resultFromWire(r));
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (this.stream === stream && err.code !== grpc.status.CANCELLED)
        this.lost(`event stream failed: ${err.details}`);
    });
    stream.on('end', () => {
      if (this.stream === stream) this.lost('the daemon ended the event stream');
    });
  }

  private checkAlive(): void {
    if (this.stateValue !== 'connected') return;
    const silence = Date.now() - this.lastHeard;
    if (silence > (this.options.deadAfterMs ?? 1500)) this.lost(`no heartbeat for ${silence} ms`);
  }

  private lost(reason: string): void {
    if (this.stateValue !== 'connected') return;
    this.stream?.cancel();
    this.stream = undefined;
    this.relayStream?.cancel();
    this.relayStream = undefined;
    this.setState({ state: 'down', at: Date.now(), reason });
    if (this.options.reconnect ?? true) {
      this.reconnecting ??= (async () => {
        while (this.stateValue === 'down') {
          try {
            await this.establish(2000);
          } catch (err) {
            if (err instanceof AuthenticationError || err instanceof ProtocolError) {
              this.setState({ state: 'down', at: Date.now(), reason: err.message });
              break;
            }
          }
        }
      })().finally(() => (this.reconnecting = undefined));
    }
  }

  private setState(event: ConnectionEvent): void {
    this.stateValue = event.state;
    this.events.emit('state', event);
  }

  /** Connection state changes from now on (ends on close()). */
  states(signal?: AbortSignal): AsyncIterable<ConnectionEvent> {
    return this.feed<ConnectionEvent>('state', signal);
  }

  /** Every operation result the daemon reports (one-shot and recurring), in order, none lost across reconnects. */
  results(signal?: AbortSignal): AsyncIterable<RemoteResult> {
    return this.feed<RemoteResult>('result', signal);
  }

  private feed<T>(name: string, signal?: AbortSignal): AsyncIterable<T> {
    const events = this.events;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<T> {
        const ac = new AbortController();
        const stop = (): void => ac.abort();
        signal?.addEventListener('abort', stop, { once: true });
        events.once('closed', stop);
        try {
          for await (const [v] of on(events, name, { signal: ac.signal })) yield v as T;
        } catch (err) {
          if ((err as Error).name !== 'AbortError') throw err;
        } finally {
          events.off('closed', stop);
          signal?.removeEventListener('abort', stop);
        }
      },
    };
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
        if ((err as grpc.ServiceError).code === grpc.status.INVALID_ARGUMENT) {
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

  /** Start a recurring operation; its results come through results(). */
  recur(
    request: RemoteRequest,
  ): Promise<{ readonly callId: number; readonly operationKey: string }> {
    const wire = requestToWire(request, request.requestId ?? randomUUID());
    return this.call(() =>
      unary(this.grpcClient.recur.bind(this.grpcClient), wire, this.metadata(), 10_000),
    );
  }

  /** Cancel a recurring operation; false when none was active. */
  async cancel(resourceId: string, action: string, interval: number): Promise<boolean> {
    const r = await this.call(() =>
      unary(
        this.grpcClient.cancel.bind(this.grpcClient),
        { resourceId, action, intervalMs: interval },
        this.metadata(),
        10_000,
      ),
    );
    return r.cancelled;
  }

  /** An agent's meta-data XML, from the remote node. */
  async metaData(agent: string): Promise<string> {
    return (
      await this.call(() =>
        unary(this.grpcClient.metaData.bind(this.grpcClient), { agent }, this.metadata(), 30_000),
      )
    ).xml;
  }

  /** Agent classes (no argument), OCF providers (`'providers'`), or the agents of a class on the remote node. */
  async listAgents(agentClass = '', provider = ''): Promise<string[]> {
    return (
      await this.call(() =>
        unary(
          this.grpcClient.listAgents.bind(this.grpcClient),
          { agentClass, provider },
          this.metadata(),
          30_000,
        ),
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
    this.setState({ state: 'closed', at: Date.now() });
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
