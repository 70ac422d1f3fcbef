import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { AgentRunnerOptions, OperationResult as RunnerResult } from '@remora/agent-runner';
import { AgentRunner, AgentRunnerError, operationKey } from '@remora/agent-runner';
import { AUTH_METADATA, checkToken } from './auth';
import type { AuthLimits, DaemonLogEntry, DaemonLogger } from './auth-guard';
import { AuthGuard } from './auth-guard';
import { requestFromWire, resultToWire } from './convert';
import { ConfigurationError, TransportError } from './errors';
import type {
  Event,
  ExecutorServer,
  LocalRelayServer,
  OperationRequest as WireRequest,
  OperationResult as WireResult,
  RelayCall,
  RelayResponse,
  SessionMessage,
  SubmitReply,
} from './gen/remora/remote/v1/remote';
import { ExecutorService, LocalRelayService, SessionRole } from './gen/remora/remote/v1/remote';
import { SecureListener, parseListenAddress } from './listener';
import { ResultLog } from './result-log';
import type { TlsOptions } from './tls';
import { serverTls } from './tls';
import { checkAgentName, checkRequest } from './validate';

/** The protocol major version this package speaks (a daemon refuses other majors). */
export const PROTOCOL_VERSION = 2;
/** The protocol minor version (additions a peer may ignore). */
export const PROTOCOL_MINOR = 0;
/** pacemaker_remote's port, used by default. */
export const DEFAULT_PORT = 3121;
const DAEMON_VERSION: string = (
  JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf8')) as { version: string }
).version;

/** Configurable limits; each refusal is a clear error naming the limit. */
export interface DaemonLimits {
  /** Largest message accepted, bytes (default 4 MiB). */
  readonly maxMessageBytes?: number;
  /** Resources registered at once (default 10,000). */
  readonly maxResources?: number;
  /** One-shot operations queued or running at once (default 1,000). */
  readonly maxQueuedOperations?: number;
  /** Connections at once per listen address (default 4,096). */
  readonly maxConnections?: number;
  /** A TLS handshake taking longer is dropped, not counted as a failed authentication (default 5 s). */
  readonly handshakeTimeoutMs?: number;
}

export interface RemoteDaemonOptions {
  /**
   * Where to listen: `host:port`, `[v6]:port`, `:port` (IPv6 and IPv4; port 0
   * picks a free one) or `unix:/path`, or several. Default `[::]:3121`
   * (every IPv6 and IPv4 address; IPv4 only where IPv6 is off).
   */
  readonly listen?: string | readonly string[];
  /** The shared key (see readAuthKey): derives the TLS pre-shared key and signs every call. */
  readonly authKey: Buffer;
  /** The node name this daemon serves as (default: the host name). */
  readonly nodeName?: string;
  /** Unix socket for CLI commands on this node (relayed to the cluster); none when absent. */
  readonly localSocket?: string;
  /** A site PKI for mutual TLS instead of the identity derived from the authkey. */
  readonly tls?: TlsOptions;
  /** Options of the embedded agent runner. */
  readonly runner?: AgentRunnerOptions;
  /** Heartbeat period on sessions, ms (default 500). */
  readonly heartbeatMs?: number;
  /** Unacknowledged results kept for replay (default 10,000). */
  readonly logCapacity?: number;
  readonly limits?: DaemonLimits;
  /** Failed authentication attempts allowed per peer before it is blocked. */
  readonly authLimits?: AuthLimits;
  /** Where the daemon logs (default: warnings and errors to stderr). */
  readonly log?: DaemonLogger;
}

/** How a shutdown ended. */
export type ShutdownOutcome =
  | 'no-controller' // nobody to drain for: exited at once
  | 'refused' // the controller answered that this node is not managed
  | 'drained' // the controller moved the resources away and disconnected
  | 'timeout'; // the drain took longer than allowed

interface PendingRelay {
  readonly resolve: (r: RelayResponse) => void;
  readonly timer: NodeJS.Timeout;
}

interface Session {
  readonly call: grpc.ServerDuplexStream<SessionMessage, Event>;
  readonly role: SessionRole;
  readonly clientName: string;
  readonly instance: string;
  readonly peer: string;
}

interface RecurringEntry {
  readonly request: WireRequest;
  readonly requestId: string;
  callId: number;
}

interface OneShot {
  readonly abort: AbortController;
  readonly resourceId: string;
}

const defaultLog: DaemonLogger = (e: DaemonLogEntry) => {
  if (e.level !== 'info') process.stderr.write(`remora remoted: ${e.level}: ${e.message}\n`);
};

function failure(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), {
    code,
    details: message,
    metadata: new grpc.Metadata(),
  });
}

function hostBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The remote daemon (`remora remoted`): serves the Executor service over TLS
 * to the cluster, runs agents with @remora/agent-runner, keeps a numbered
 * result log until a controller acknowledges it, pauses recurring monitors
 * while no controller is connected, hands over to the newest controller,
 * drains on shutdown, and relays CLI commands from its local Unix socket to
 * the connected cluster.
 *
 * ```ts
 * await using daemon = await RemoteDaemon.start({ listen: '127.0.0.1:0', authKey, nodeName: 'guest1' });
 * console.log(daemon.address); // 127.0.0.1:41234
 * ```
 */
export class RemoteDaemon implements AsyncDisposable {
  readonly bootId = randomUUID();
  readonly startedAt = Date.now();
  private readonly runner: AgentRunner;
  private readonly log: ResultLog;
  private readonly guard: AuthGuard;
  private readonly logger: DaemonLogger;
  private readonly limits: Required<DaemonLimits>;
  /** callId -> request id, for results. */
  private readonly requestIds = new Map<number, string>();
  /** Execute: request id -> its result. */
  private readonly done = new Map<string, Promise<WireResult>>();
  /** Submit: request id -> the reply given (idempotent retries). */
  private readonly accepted = new Map<string, SubmitReply>();
  private readonly oneShots = new Map<number, OneShot>();
  /** Recurring operations asked for (kept while paused), by operation key. */
  private readonly recurring = new Map<string, RecurringEntry>();
  /** Call ids whose `cancelled` result is not reported (paused monitors). */
  private readonly silenced = new Set<number>();
  private readonly waiters = new Map<number, (r: WireResult) => void>();
  private readonly sessions = new Set<Session>();
  private active: Session | undefined;
  private paused = false;
  private relay: grpc.ServerDuplexStream<RelayResponse, RelayCall> | undefined;
  private readonly pendingRelays = new Map<number, PendingRelay>();
  private nextRelayId = 1;
  private server: grpc.Server | undefined;
  private listener: SecureListener | undefined;
  private localServer: grpc.Server | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pump: Promise<void> | undefined;
  private closed = false;
  private shuttingDown: Promise<ShutdownOutcome> | undefined;
  private drainAnswer: ((accept: boolean, reason: string) => void) | undefined;
  private latest: WireResult | undefined;
  /** Where the daemon listens (the bound port filled in); the first of `addresses`. */
  address = '';
  /** Every listen address. */
  addresses: readonly string[] = [];
  readonly nodeName: string;

  private constructor(private readonly options: RemoteDaemonOptions) {
    this.nodeName = options.nodeName ?? hostname();
    this.runner = new AgentRunner(options.runner);
    this.log = new ResultLog(options.logCapacity);
    this.logger = options.log ?? defaultLog;
    this.guard = new AuthGuard(options.authLimits ?? {}, this.logger);
    const l = options.limits ?? {};
    this.limits = {
      maxMessageBytes: l.maxMessageBytes ?? 4 * 1024 * 1024,
      maxResources: l.maxResources ?? 10_000,
      maxQueuedOperations: l.maxQueuedOperations ?? 1000,
      maxConnections: l.maxConnections ?? 4096,
      handshakeTimeoutMs: l.handshakeTimeoutMs ?? 5000,
    };
    for (const [k, v] of Object.entries(this.limits))
      if (!Number.isInteger(v) || v < 1)
        throw new ConfigurationError(`limits.${k}: expected a whole number >= 1, got ${v}`);
  }

  /** Start serving. Throws ConfigurationError for bad options and TransportError when an address cannot be bound. */
  static async start(options: RemoteDaemonOptions): Promise<RemoteDaemon> {
    if (!Buffer.isBuffer(options.authKey) || options.authKey.length < 32) {
      throw new ConfigurationError('authKey: a Buffer of at least 32 bytes is required');
    }
    const daemon = new RemoteDaemon(options);
    try {
      await daemon.listen();
    } catch (err) {
      await daemon.close();
      throw err;
    }
    return daemon;
  }

  /** Controller and tool sessions open now. */
  get connectedClients(): number {
    return this.sessions.size;
  }

  /** The name of the active controller, if one is connected. */
  get activeController(): string | undefined {
    return this.active?.clientName;
  }

  /** The latest result recorded (for diagnostics and tests). */
  get lastResult(): WireResult | undefined {
    return this.latest;
  }

  /** Results held for replay (not yet acknowledged). */
  get unacknowledgedResults(): number {
    return this.log.size;
  }

  /** Whether recurring monitors are paused (the last controller left). */
  get monitorsPaused(): boolean {
    return this.paused;
  }

  /** Failed authentication attempts so far. */
  get authenticationFailures(): number {
    return this.guard.failures;
  }

  /** Operations the daemon has accepted so far (one-shot and recurring), for diagnostics. */
  operationsAccepted = 0;

  /** Whether a cluster has opened the relay (CLI commands on this node can reach it). */
  get relayConnected(): boolean {
    return this.relay !== undefined;
  }

  private async listen(): Promise<void> {
    const listen = this.options.listen ?? `[::]:${DEFAULT_PORT}`;
    const addresses = (typeof listen === 'string' ? [listen] : [...listen]).map((a) =>
      parseListenAddress(a, DEFAULT_PORT),
    );
    if (addresses.length === 0) throw new ConfigurationError('listen: no address given');
    this.server = new grpc.Server({
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 200,
      // A controller that answers no ping for 10 s is gone (its session ends,
      // monitors pause). grpc-js times pings with a plain timer, blind to
      // event-loop stalls on either side: a shorter limit dropped busy
      // controllers' live connections on a loaded host (16 nodes, 64 guests
      // on 2 cores). The controller's side judges us by heartbeats.
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.max_send_message_length': this.limits.maxMessageBytes,
    });
    this.server.addService(ExecutorService, this.executor());
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.listener = new SecureListener({
      tls: serverTls(this.options.authKey, this.options.tls),
      onSecure: (socket) => injector.injectConnection(socket),
      blocked: (peer) => this.guard.blocked(peer),
      onFailure: (peer, reason) => this.guard.failure(peer, reason),
      onIncomplete: (peer, reason) =>
        this.logger({
          level: 'info',
          peer,
          message: `connection from ${peer} closed before TLS was established: ${reason} (not counted as a failed authentication)`,
        }),
      maxConnections: this.limits.maxConnections,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
    });
    const bound: string[] = [];
    for (const a of addresses) bound.push(await this.listener.listen(a));
    this.addresses = bound;
    this.address = bound[0]!;
    this.pump = this.pumpResults();
    const period = this.options.heartbeatMs ?? 500;
    this.heartbeat = setInterval(() => {
      const beat: Event = {
        kind: {
          $case: 'heartbeat',
          value: { lastSequence: this.log.lastSequence, time: Date.now() },
        },
      };
      for (const s of this.sessions) s.call.write(beat);
    }, period);
    if (this.options.localSocket) {
      const socket = this.options.localSocket;
      await mkdir(dirname(socket), { recursive: true });
      await rm(socket, { force: true });
      this.localServer = new grpc.Server({
        'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      });
      this.localServer.addService(LocalRelayService, this.localRelay());
      await bind(this.localServer, `unix:${socket}`, grpc.ServerCredentials.createInsecure());
      await chmod(socket, 0o660);
    }
    this.logger({
      level: 'info',
      message: `serving ${this.nodeName} on ${bound.join(', ')} (TLS ${this.options.tls ? 'with the site PKI' : '1.3 with the pre-shared key of the authkey'})`,
    });
  }

  private async pumpResults(): Promise<void> {
    for await (const r of this.runner.results()) this.record(r);
  }

  private record(r: RunnerResult): void {
    if (this.silenced.delete(r.callId) && r.execStatus === 'cancelled') return;
    const requestId = this.requestIds.get(r.callId) ?? '';
    if (r.interval === 0) {
      this.requestIds.delete(r.callId);
      this.oneShots.delete(r.callId);
    } else if (r.execStatus === 'cancelled') {
      const key = operationKey(r.resourceId, r.action, r.interval);
      if (this.recurring.get(key)?.callId === r.callId) this.recurring.delete(key);
      this.requestIds.delete(r.callId);
    }
    const entry = this.log.append((seq) => resultToWire(r, seq, requestId));
    this.latest = entry;
    const event: Event = { kind: { $case: 'result', value: entry } };
    for (const s of this.sessions) s.call.write(event);
    const waiter = this.waiters.get(r.callId);
    if (waiter) {
      this.waiters.delete(r.callId);
      waiter(entry);
    }
  }

  private peerOf(call: { getPeer(): string }): string {
    const p = call.getPeer();
    const m = /^\[?([^\]]*)\]?:\d+$/.exec(p);
    const host = m ? m[1]! : p;
    return host.startsWith('::ffff:') ? host.slice(7) : host || 'local';
  }

  /** Admission of a new operation: validation and limits. Returns the error to send, if refused. */
  private admit(w: WireRequest, oneShot: boolean): grpc.ServiceError | undefined {
    if (this.closed) return failure(grpc.status.UNAVAILABLE, `${this.nodeName} is shutting down`);
    // While draining, the controller still stops (and probes) what runs here; nothing new starts.
    if (this.shuttingDown && !(oneShot && (w.action === 'stop' || w.action === 'monitor')))
      return failure(
        grpc.status.FAILED_PRECONDITION,
        `${this.nodeName} is shutting down: only stop and probe operations are accepted`,
      );
    const why = checkRequest(w);
    if (why) return failure(grpc.status.INVALID_ARGUMENT, why);
    if (this.runner.history(w.resourceId) === undefined) {
      const n = this.runner.resources().length;
      if (n >= this.limits.maxResources)
        return failure(
          grpc.status.RESOURCE_EXHAUSTED,
          `cannot register resource '${w.resourceId}': ${n} resources registered, the limit (maxResources) is ${this.limits.maxResources}`,
        );
    }
    if (oneShot && this.oneShots.size >= this.limits.maxQueuedOperations)
      return failure(
        grpc.status.RESOURCE_EXHAUSTED,
        `cannot queue ${w.resourceId} ${w.action}: ${this.oneShots.size} operations queued or running, the limit (maxQueuedOperations) is ${this.limits.maxQueuedOperations}`,
      );
    return undefined;
  }

  /** Accept a one-shot operation (idempotent per request id). */
  private submit(w: WireRequest): SubmitReply {
    const requestId = w.requestId || randomUUID();
    const known = this.accepted.get(requestId);
    if (known) return { ...known, duplicate: true };
    const abort = new AbortController();
    const op = this.runner.submit(requestFromWire(w), { signal: abort.signal });
    this.operationsAccepted++;
    if (w.action === 'stop')
      for (const [key, e] of this.recurring)
        if (e.request.resourceId === w.resourceId) this.recurring.delete(key);
    this.requestIds.set(op.callId, requestId);
    this.oneShots.set(op.callId, { abort, resourceId: w.resourceId });
    const reply: SubmitReply = {
      callId: op.callId,
      operationKey: op.operationKey,
      requestId,
      duplicate: false,
    };
    this.accepted.set(requestId, reply);
    void op.result.then(() =>
      setTimeout(() => this.accepted.delete(requestId), 10 * 60_000).unref(),
    );
    return reply;
  }

  private startRecurring(entry: RecurringEntry): void {
    const op = this.runner.recur(requestFromWire(entry.request));
    entry.callId = op.callId;
    this.requestIds.set(op.callId, entry.requestId);
  }

  private pauseMonitors(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    for (const e of this.recurring.values()) {
      this.silenced.add(e.callId);
      if (!this.runner.cancel(e.request.resourceId, e.request.action, e.request.intervalMs))
        this.silenced.delete(e.callId);
    }
    if (this.recurring.size > 0)
      this.logger({
        level: 'info',
        message: `no controller connected: ${this.recurring.size} recurring operations paused`,
      });
  }

  private resumeMonitors(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const e of this.recurring.values()) this.startRecurring(e);
    if (this.recurring.size > 0)
      this.logger({
        level: 'info',
        message: `controller connected: ${this.recurring.size} recurring operations resumed`,
      });
  }

  private controllers(): number {
    let n = 0;
    for (const s of this.sessions) if (s.role === SessionRole.CONTROLLER) n++;
    return n;
  }

  private openSession(call: grpc.ServerDuplexStream<SessionMessage, Event>): void {
    let session: Session | undefined;
    const timer = setTimeout(() => {
      if (!session)
        call.destroy(failure(grpc.status.INVALID_ARGUMENT, 'session: no open message within 5 s'));
    }, 5000);
    const leave = (): void => {
      clearTimeout(timer);
      if (!session || !this.sessions.delete(session)) return;
      if (this.active === session) this.active = undefined;
      this.logger({
        level: 'info',
        peer: session.peer,
        message: `session of ${session.clientName || session.peer} ended`,
      });
      if (session.role === SessionRole.CONTROLLER && this.controllers() === 0) {
        this.pauseMonitors();
        this.drainAnswer?.(true, 'the controller disconnected');
      }
    };
    call.on('data', (m: SessionMessage) => {
      const kind = m.kind;
      if (!kind) return;
      if (kind.$case === 'open') {
        if (session) return;
        clearTimeout(timer);
        const o = kind.value;
        if (this.shuttingDown && o.role === SessionRole.CONTROLLER) {
          call.destroy(failure(grpc.status.UNAVAILABLE, `${this.nodeName} is shutting down`));
          return;
        }
        session = {
          call,
          role: o.role,
          clientName: o.clientName,
          instance: o.clientInstance,
          peer: this.peerOf(call),
        };
        if (o.role === SessionRole.CONTROLLER) {
          const old = this.active;
          this.active = session;
          if (old) {
            this.sessions.delete(old);
            if (old.instance !== session.instance) {
              old.call.write({ kind: { $case: 'takeover', value: { byClient: o.clientName } } });
              this.logger({
                level: 'info',
                message: `controller ${o.clientName || session.peer} took over from ${old.clientName || old.peer}`,
              });
            }
            old.call.end();
          }
        }
        this.sessions.add(session);
        const sameBoot = o.bootId === '' || o.bootId === this.bootId;
        const after = sameBoot ? o.afterSequence : 0;
        call.write({
          kind: {
            $case: 'heartbeat',
            value: { lastSequence: this.log.lastSequence, time: Date.now() },
          },
        });
        const lost = this.log.lost(after);
        if (lost)
          call.write({ kind: { $case: 'lost', value: { firstLost: lost[0], lastLost: lost[1] } } });
        for (const r of this.log.since(after)) call.write({ kind: { $case: 'result', value: r } });
        if (o.role === SessionRole.CONTROLLER) this.resumeMonitors();
      } else if (kind.$case === 'ack') {
        if (session?.role === SessionRole.CONTROLLER && session === this.active)
          this.log.acknowledge(kind.value.sequence);
      } else if (kind.$case === 'drainAnswer') {
        if (session === this.active) this.drainAnswer?.(kind.value.accept, kind.value.reason);
      }
    });
    call.on('end', () => {
      leave();
      call.end();
    });
    call.on('cancelled', leave);
    call.on('close', leave);
    call.on('error', leave);
  }

  private executor(): ExecutorServer {
    const deny = (
      call: { metadata: grpc.Metadata; getPeer(): string },
      fail: (e: grpc.ServiceError) => void,
    ): boolean => {
      const peer = this.peerOf(call);
      if (this.guard.blocked(peer)) {
        fail(
          failure(
            grpc.status.UNAUTHENTICATED,
            'too many failed authentication attempts; try later',
          ),
        );
        return true;
      }
      const token = call.metadata.get(AUTH_METADATA)[0];
      const why = checkToken(this.options.authKey, typeof token === 'string' ? token : undefined);
      if (why === undefined) return false;
      this.guard.failure(peer, why);
      fail(failure(grpc.status.UNAUTHENTICATED, why));
      return true;
    };
    const invalid = (err: unknown): grpc.ServiceError => {
      const message = err instanceof Error ? err.message : String(err);
      return failure(
        err instanceof AgentRunnerError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
        message,
      );
    };
    return {
      handshake: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        if (call.request.protocolVersion !== PROTOCOL_VERSION) {
          callback(
            failure(
              grpc.status.FAILED_PRECONDITION,
              `incompatible protocol: ${this.nodeName} runs remora remoted ${DAEMON_VERSION} speaking protocol ${PROTOCOL_VERSION}.${PROTOCOL_MINOR}, the client speaks ${call.request.protocolVersion}.${call.request.protocolMinor}; upgrade the older side`,
            ),
          );
          return;
        }
        callback(null, {
          protocolVersion: PROTOCOL_VERSION,
          protocolMinor: PROTOCOL_MINOR,
          nodeName: this.nodeName,
          daemonVersion: DAEMON_VERSION,
          bootId: this.bootId,
          lastSequence: this.log.lastSequence,
          hostname: hostname(),
          startedAt: this.startedAt,
          uptimeMs: Date.now() - this.startedAt,
          hostBootId: hostBootId(),
          acknowledgedSequence: this.log.acknowledgedSequence,
          maxMessageBytes: this.limits.maxMessageBytes,
          maxResources: this.limits.maxResources,
          maxQueuedOperations: this.limits.maxQueuedOperations,
        });
      },
      execute: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const requestId = call.request.requestId || randomUUID();
        let pending = this.done.get(requestId);
        if (!pending) {
          const refused = this.admit(call.request, true);
          if (refused) return callback(refused);
          try {
            const { callId } = this.submit({ ...call.request, requestId });
            pending = new Promise<WireResult>((resolve) => this.waiters.set(callId, resolve));
            this.done.set(requestId, pending);
            // Forget idempotency entries after a while (clients retry within seconds).
            void pending.then(() =>
              setTimeout(() => this.done.delete(requestId), 10 * 60_000).unref(),
            );
          } catch (err) {
            return callback(invalid(err));
          }
        }
        void pending.then((r) => callback(null, r));
      },
      submit: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        if (!this.accepted.has(call.request.requestId)) {
          const refused = this.admit(call.request, true);
          if (refused) return callback(refused);
        }
        try {
          callback(null, this.submit(call.request));
        } catch (err) {
          callback(invalid(err));
        }
      },
      recur: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const refused = this.admit(call.request, false);
        if (refused) return callback(refused);
        const w = call.request;
        try {
          if (w.intervalMs === 0)
            throw invalid(
              new AgentRunnerError('interval: a recurring operation needs an interval > 0'),
            );
          const key = operationKey(w.resourceId, w.action, w.intervalMs);
          const existing = this.recurring.get(key);
          const entry: RecurringEntry = existing ?? {
            request: w,
            requestId: w.requestId || randomUUID(),
            callId: 0,
          };
          if (this.paused) {
            // Held until a controller connects; a duplicate request is merged.
            if (!existing) entry.callId = 0;
          } else {
            const op = this.runner.recur(requestFromWire(existing ? existing.request : w));
            entry.callId = op.callId;
            this.requestIds.set(op.callId, entry.requestId);
          }
          this.recurring.set(key, entry);
          this.operationsAccepted++;
          callback(null, { callId: entry.callId, operationKey: key });
        } catch (err) {
          callback(
            (err as grpc.ServiceError).code !== undefined
              ? (err as grpc.ServiceError)
              : invalid(err),
          );
        }
      },
      cancel: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const { resourceId, action, intervalMs } = call.request;
        const key = operationKey(resourceId, action, intervalMs);
        const held = this.recurring.delete(key);
        const cancelled = this.runner.cancel(resourceId, action, intervalMs);
        callback(null, { cancelled: cancelled || (held && this.paused) });
      },
      cancelCall: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const id = call.request.callId;
        const one = this.oneShots.get(id);
        if (one) {
          one.abort.abort();
          return callback(null, { cancelled: true });
        }
        for (const [key, e] of this.recurring) {
          if (e.callId !== id) continue;
          this.recurring.delete(key);
          const { resourceId, action, intervalMs } = e.request;
          const cancelled = this.runner.cancel(resourceId, action, intervalMs);
          return callback(null, { cancelled: cancelled || this.paused });
        }
        callback(null, { cancelled: false });
      },
      unregister: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const id = call.request.resourceId;
        for (const [key, e] of this.recurring)
          if (e.request.resourceId === id) this.recurring.delete(key);
        const known = this.runner.history(id) !== undefined;
        this.runner.forget(id);
        callback(null, { known });
      },
      session: (call) => {
        if (deny(call, (e) => call.destroy(e))) return;
        this.openSession(call);
      },
      metaData: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const why = checkAgentName(call.request.agent);
        if (why) return callback(failure(grpc.status.INVALID_ARGUMENT, why));
        this.runner.metaData(call.request.agent).then(
          (md) => callback(null, { xml: md.xml }),
          (err: unknown) => callback(invalid(err)),
        );
      },
      listAgents: (call, callback) => {
        if (deny(call, (e) => callback(e))) return;
        const { agentClass, provider } = call.request;
        if (
          !/^[A-Za-z0-9_.-]*$/.test(agentClass) ||
          !/^[A-Za-z0-9_.-]*$/.test(provider) ||
          provider.includes('..')
        )
          return callback(
            failure(
              grpc.status.INVALID_ARGUMENT,
              `listAgents: '${agentClass}' / '${provider}' is not a class / provider name`,
            ),
          );
        const names =
          agentClass === ''
            ? this.runner.listClasses()
            : agentClass === 'providers'
              ? this.runner.listProviders()
              : this.runner.listAgents(
                  agentClass as Parameters<AgentRunner['listAgents']>[0],
                  provider || undefined,
                );
        names.then(
          (list) => callback(null, { names: list }),
          (err: unknown) => callback(invalid(err)),
        );
      },
      relay: (call) => {
        if (deny(call, (e) => call.destroy(e))) return;
        this.relay?.end();
        this.relay = call;
        call.on('data', (r: RelayResponse) => {
          const p = this.pendingRelays.get(r.id);
          if (!p) return;
          clearTimeout(p.timer);
          this.pendingRelays.delete(r.id);
          p.resolve(r);
        });
        const gone = (): void => {
          if (this.relay === call) this.relay = undefined;
        };
        call.on('end', gone);
        call.on('error', gone);
        call.on('cancelled', gone);
        call.on('close', gone);
      },
    };
  }

  private localRelay(): LocalRelayServer {
    return {
      call: (call, callback) => {
        const relay = this.relay;
        if (!relay) {
          callback(null, {
            id: call.request.id,
            exitCode: 102,
            stdout: '',
            stderr: `${this.nodeName} is not connected to a cluster (no cluster node has opened the relay)`,
          });
          return;
        }
        const id = this.nextRelayId++;
        const timer = setTimeout(() => {
          this.pendingRelays.delete(id);
          callback(null, {
            id: call.request.id,
            exitCode: 124,
            stdout: '',
            stderr: 'the cluster did not answer within 30 s',
          });
        }, 30_000);
        this.pendingRelays.set(id, {
          resolve: (r) => callback(null, { ...r, id: call.request.id }),
          timer,
        });
        relay.write({ ...call.request, id, nodeName: this.nodeName });
      },
    };
  }

  /**
   * Graceful shutdown (SIGTERM): with no controller, close at once;
   * otherwise stop accepting connections, ask the active controller to drain
   * this node, and close when every controller has disconnected, when the
   * controller refuses (the node is not managed), or after `timeoutMs`
   * (default 5 min). Resources keep running either way.
   */
  shutdown(
    options: { readonly timeoutMs?: number; readonly reason?: string } = {},
  ): Promise<ShutdownOutcome> {
    this.shuttingDown ??= (async (): Promise<ShutdownOutcome> => {
      this.listener?.stopAccepting();
      const active = this.active;
      if (!active || this.controllers() === 0) {
        await this.close();
        return 'no-controller';
      }
      const timeoutMs = options.timeoutMs ?? 300_000;
      this.logger({
        level: 'info',
        message: `shutting down: asking ${active.clientName || active.peer} to drain ${this.nodeName}`,
      });
      const outcome = await new Promise<ShutdownOutcome>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), timeoutMs);
        this.drainAnswer = (accept, reason) => {
          if (accept && this.controllers() > 0) {
            this.logger({
              level: 'info',
              message: `drain accepted by the controller${reason ? ` (${reason})` : ''}`,
            });
            return;
          }
          clearTimeout(timer);
          if (!accept)
            this.logger({ level: 'info', message: `drain refused: ${reason || 'not managed'}` });
          resolve(accept ? 'drained' : 'refused');
        };
        active.call.write({
          kind: {
            $case: 'drain',
            value: {
              reason: options.reason ?? 'the remote daemon is shutting down',
              deadlineMs: timeoutMs,
            },
          },
        });
      });
      this.drainAnswer = undefined;
      await this.close();
      return outcome;
    })();
    return this.shuttingDown;
  }

  /** Stop serving at once: end sessions, cancel recurring operations, kill running agents. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const p of this.pendingRelays.values()) clearTimeout(p.timer);
    this.relay?.end();
    for (const s of this.sessions) s.call.end();
    this.sessions.clear();
    this.listener?.stopAccepting();
    await this.runner.close();
    await this.pump;
    await Promise.all([shutdown(this.server), shutdown(this.localServer)]);
    this.listener?.close();
    if (this.options.localSocket) await rm(this.options.localSocket, { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function bind(
  server: grpc.Server,
  address: string,
  creds: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => {
      if (err)
        reject(new TransportError(`cannot listen on ${address}: ${err.message}`, { cause: err }));
      else resolve(port);
    });
  });
}

function shutdown(server: grpc.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), 2000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
