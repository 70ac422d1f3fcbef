import { randomUUID } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { AgentRunnerOptions, OperationResult as RunnerResult } from '@remora/agent-runner';
import { AgentRunner, AgentRunnerError } from '@remora/agent-runner';
import { AUTH_METADATA, checkToken } from './auth';
import { requestFromWire, resultToWire } from './convert';
import { ConfigurationError, TransportError } from './errors';
import type {
  Event,
  ExecutorServer,
  LocalRelayServer,
  OperationResult as WireResult,
  RelayCall,
  RelayResponse,
} from './gen/remora/remote/v1/remote';
import { ExecutorService, LocalRelayService } from './gen/remora/remote/v1/remote';
import { ResultLog } from './result-log';
import type { TlsOptions } from './tls';
import { serverCredentials } from './tls';

/** The protocol version this package speaks. */
export const PROTOCOL_VERSION = 1;
/** pacemaker_remote's port, used by default. */
export const DEFAULT_PORT = 3121;
const DAEMON_VERSION = '0.1.0';

export interface RemoteDaemonOptions {
  /** `host:port` (default `0.0.0.0:3121`; port 0 picks a free one) or `unix:/path`. */
  readonly listen?: string;
  /** The shared key (see readAuthKey). */
  readonly authKey: Buffer;
  /** The node name this daemon serves as (default: the host name). */
  readonly nodeName?: string;
  /** Unix socket for CLI commands on this node (relayed to the cluster); none when absent. */
  readonly localSocket?: string;
  /** TLS server certificate (recommended on untrusted networks). */
  readonly tls?: TlsOptions;
  /** Options of the embedded agent runner. */
  readonly runner?: AgentRunnerOptions;
  /** Heartbeat period on event streams, ms (default 500). */
  readonly heartbeatMs?: number;
  /** Results kept for replay after reconnects (default 10,000). */
  readonly logCapacity?: number;
}

interface PendingRelay {
  readonly resolve: (r: RelayResponse) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The remote daemon (`remora remoted`): serves the Executor service to the
 * cluster, runs agents with @remora/agent-runner, keeps a numbered result
 * log for replay, and relays CLI commands from its local Unix socket to the
 * connected cluster.
 *
 * ```ts
 * await using daemon = await RemoteDaemon.start({ listen: '127.0.0.1:0', authKey, nodeName: 'guest1' });
 * console.log(daemon.address); // 127.0.0.1:41234
 * ```
 */
export class RemoteDaemon implements AsyncDisposable {
  readonly bootId = randomUUID();
  private readonly runner: AgentRunner;
  private readonly log: ResultLog;
  private readonly requestIds = new Map<number, string>();
  private readonly done = new Map<string, Promise<WireResult>>();
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, Event>>();
  private relay: grpc.ServerDuplexStream<RelayResponse, RelayCall> | undefined;
  private readonly pendingRelays = new Map<number, PendingRelay>();
  private nextRelayId = 1;
  private server: grpc.Server | undefined;
  private localServer: grpc.Server | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pump: Promise<void> | undefined;
  private closed = false;
  /** Where the daemon listens (the bound port filled in). */
  address = '';
  readonly nodeName: string;

  private constructor(private readonly options: RemoteDaemonOptions) {
    this.nodeName = options.nodeName ?? hostname();
    this.runner = new AgentRunner(options.runner);
    this.log = new ResultLog(options.logCapacity);
  }

  /** Start serving. Throws ConfigurationError for bad options and TransportError when the address cannot be bound. */
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

  /** Clients currently streaming events (connected cluster nodes). */
  get connectedClients(): number {
    return this.streams.size;
  }

  /** The latest result recorded (for diagnostics and tests). */
  get lastResult(): WireResult | undefined {
    return this.log.since(this.log.lastSequence - 1)[0];
  }

  /** Whether a cluster has opened the relay (CLI commands on this node can reach it). */
  get relayConnected(): boolean {
    return this.relay !== undefined;
  }

  private authorized(metadata: grpc.Metadata): string | undefined {
    const token = metadata.get(AUTH_METADATA)[0];
    return checkToken(this.options.authKey, typeof token === 'string' ? token : undefined);
  }

  private async listen(): Promise<void> {
    const listen = this.options.listen ?? `0.0.0.0:${DEFAULT_PORT}`;
    this.server = new grpc.Server({
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 200,
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 1000,
    });
    this.server.addService(ExecutorService, this.executor());
    const port = await bind(this.server, listen, serverCredentials(this.options.tls));
    this.address = listen.startsWith('unix:')
      ? listen
      : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    this.pump = this.pumpResults();
    const period = this.options.heartbeatMs ?? 500;
    this.heartbeat = setInterval(() => {
      const beat: Event = {
        kind: {
          $case: 'heartbeat',
          value: { lastSequence: this.log.lastSequence, time: Date.now() },
        },
      };
      for (const s of this.streams) s.write(beat);
    }, period);
    if (this.options.localSocket) {
      const socket = this.options.localSocket;
      await mkdir(dirname(socket), { recursive: true });
      await rm(socket, { force: true });
      this.localServer = new grpc.Server();
      this.localServer.addService(LocalRelayService, this.localRelay());
      await bind(this.localServer, `unix:${socket}`, grpc.ServerCredentials.createInsecure());
      await chmod(socket, 0o660);
    }
  }

  private async pumpResults(): Promise<void> {
    for await (const r of this.runner.results()) this.record(r);
  }

  private record(r: RunnerResult): WireResult {
    const requestId = this.requestIds.get(r.callId) ?? '';
    if (r.interval === 0) this.requestIds.delete(r.callId);
    const entry = this.log.append((seq) => resultToWire(r, seq, requestId));
    const event: Event = { kind: { $case: 'result', value: entry } };
    for (const s of this.streams) s.write(event);
    return entry;
  }

  private executor(): ExecutorServer {
    const deny = (metadata: grpc.Metadata, fail: (e: grpc.ServiceError) => void): boolean => {
      const why = this.authorized(metadata);
      if (why === undefined) return false;
      fail(
        Object.assign(new Error(why), {
          code: grpc.status.UNAUTHENTICATED,
          details: why,
          metadata: new grpc.Metadata(),
        }),
      );
      return true;
    };
    const invalid = (err: unknown): grpc.ServiceError => {
      const message = err instanceof Error ? err.message : String(err);
      const code =
        err instanceof AgentRunnerError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
      return Object.assign(new Error(message), {
        code,
        details: message,
        metadata: new grpc.Metadata(),
      });
    };
    return {
      handshake: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        callback(null, {
          protocolVersion: PROTOCOL_VERSION,
          nodeName: this.nodeName,
          daemonVersion: DAEMON_VERSION,
          bootId: this.bootId,
          lastSequence: this.log.lastSequence,
        });
      },
      execute: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        const requestId = call.request.requestId || randomUUID();
        let pending = this.done.get(requestId);
        if (!pending) {
          try {
            const op = this.runner.submit(requestFromWire(call.request));
            this.requestIds.set(op.callId, requestId);
            pending = new Promise<WireResult>((resolve) => {
              const stop = this.log.subscribe((r) => {
                if (r.callId === op.callId) {
                  stop();
                  resolve(r);
                }
              });
            });
            this.done.set(requestId, pending);
            // Forget idempotency entries after a while (clients retry within seconds).
            void pending.then(() =>
              setTimeout(() => this.done.delete(requestId), 10 * 60_000).unref(),
            );
          } catch (err) {
            callback(invalid(err));
            return;
          }
        }
        void pending.then((r) => callback(null, r));
      },
      recur: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        try {
          const op = this.runner.recur(requestFromWire(call.request));
          this.requestIds.set(op.callId, call.request.requestId);
          callback(null, { callId: op.callId, operationKey: op.operationKey });
        } catch (err) {
          callback(invalid(err));
        }
      },
      cancel: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        callback(null, {
          cancelled: this.runner.cancel(
            call.request.resourceId,
            call.request.action,
            call.request.intervalMs,
          ),
        });
      },
      events: (call) => {
        if (deny(call.metadata, (e) => call.destroy(e))) return;
        const sameBoot = call.request.bootId === '' || call.request.bootId === this.bootId;
        const after = sameBoot ? call.request.afterSequence : 0;
        for (const r of this.log.since(after)) call.write({ kind: { $case: 'result', value: r } });
        this.streams.add(call as grpc.ServerWritableStream<unknown, Event>);
        const drop = (): void =>
          void this.streams.delete(call as grpc.ServerWritableStream<unknown, Event>);
        call.on('cancelled', drop);
        call.on('close', drop);
        call.on('error', drop);
      },
      metaData: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        this.runner.metaData(call.request.agent).then(
          (md) => callback(null, { xml: md.xml }),
          (err: unknown) => callback(invalid(err)),
        );
      },
      listAgents: (call, callback) => {
        if (deny(call.metadata, (e) => callback(e))) return;
        const { agentClass, provider } = call.request;
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
        if (deny(call.metadata, (e) => call.destroy(e))) return;
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

  /** Stop serving: end streams, cancel recurring operations, kill running agents. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const p of this.pendingRelays.values()) clearTimeout(p.timer);
    this.relay?.end();
    for (const s of this.streams) s.end();
    this.streams.clear();
    await this.runner.close();
    await this.pump;
    await Promise.all([shutdown(this.server), shutdown(this.localServer)]);
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
