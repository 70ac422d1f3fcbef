import { RemoteClient } from '@remora/remote-transport';
import type { RemoteClientOptions } from '@remora/remote-transport';
import type { CibStore } from '@remora/cib';
import type { ExecutedOperation, ExecutorClient } from './executor';
import { RemoteNodeExecutor, controllerResult } from './executor';
import type { GraphAction } from './graph';
import { OpStatus } from './lrm-record';

/** Whether an action is on a remote-node connection resource (run by the controller itself). */
export function isConnectionAction(a: GraphAction): boolean {
  const r = a.resource;
  return r !== undefined && r.class === 'ocf' && r.provider === 'pacemaker' && r.type === 'remote';
}

/** A live connection to a remote or guest node, hosted on a cluster node. */
export interface Connection {
  readonly node: string;
  /** The cluster node hosting the connection (changes on migration). */
  host: string;
  readonly executor: RemoteNodeExecutor;
  /**
   * Why the connection was lost, once it was: a lost connection stays lost
   * (its monitor fails) until the scheduler recovers it with a new one, as
   * Pacemaker's controller treats a dropped remote connection.
   */
  lost?: string;
}

/**
 * Opens a remote/guest node's connection on the cluster node `host` (the
 * node the transition puts the connection resource on). The default opens
 * it from this process (embedded mode: one process plays every cluster
 * node); distributed mode asks the member `host` to open it
 * (`ClusterNode`), and `rehost` says whether a connection moving between
 * two hosts has to be made again (false: only its host label changes).
 */
export interface ConnectionOpener {
  open(
    host: string,
    node: string,
    options: RemoteClientOptions,
    signal?: AbortSignal,
  ): Promise<ExecutorClient>;
  rehost(from: string, to: string): boolean;
}

/** Every connection from this process, whatever the host (embedded mode). */
export const LOCAL_CONNECTIONS: ConnectionOpener = {
  open: (_host, _node, options, signal) => RemoteClient.connect(options, signal),
  rehost: () => false,
};

/**
 * Carries out `ocf:pacemaker:remote` actions the way Pacemaker's controller
 * does (no agent runs): start = connect to the node's daemon (address and
 * port from the CIB's remote/guest node definition, retried until the
 * action's timeout = remote-connect-timeout), stop = disconnect, monitor =
 * connection state on the hosting node.
 */
export class ConnectionManager {
  readonly connections = new Map<string, Connection>();
  /** Each node's running connection monitor. */
  private readonly monitors = new Map<
    string,
    { readonly connection: Connection; readonly stop: () => void }
  >();

  constructor(
    private readonly store: CibStore,
    private readonly authKey: Buffer,
    private readonly onLost: (c: Connection, reason: string) => void,
    /** Silence after which a connection counts as lost (RemoteClient's deadAfterMs; default 1.5 s). */
    private readonly deadAfterMs?: number,
    private readonly opener: ConnectionOpener = LOCAL_CONNECTIONS,
  ) {}

  async run(a: GraphAction, signal?: AbortSignal): Promise<ExecutedOperation> {
    const node = a.resource!.id;
    const host = a.onNode ?? '';
    const started = Date.now();
    const existing = this.connections.get(node);
    if (a.operation === 'monitor') {
      const up = existing !== undefined && existing.host === host && this.alive(existing);
      if (up && a.interval > 0) this.monitor(existing, a);
      return controllerResult(up ? 0 : 7, started);
    }
    if (a.operation === 'cancel') {
      if ((a.attributes.CRM_meta_operation ?? 'monitor') === 'monitor') this.stopMonitor(node);
      return controllerResult(0, started);
    }
    if (a.operation === 'stop') {
      // After a migration the connection lives on another host: the old host's stop leaves it.
      if (existing && existing.host === host) await this.drop(node);
      return controllerResult(0, started);
    }
    if (a.operation === 'migrate_to')
      return existing && existing.host === host
        ? controllerResult(0, started)
        : controllerResult(1, started, `${node} is not connected from ${host}`, OpStatus.error);
    if (
      a.operation === 'migrate_from' &&
      existing &&
      this.alive(existing) &&
      !this.opener.rehost(existing.host, host)
    ) {
      existing.host = host;
      return controllerResult(0, started);
    }
    if (a.operation !== 'start' && a.operation !== 'migrate_from')
      return controllerResult(
        3,
        started,
        `${a.operation} is not supported for connections`,
        OpStatus.notSupported,
      );
    if (existing) await this.drop(node);
    const cib = this.store.cib;
    const def =
      cib.guestNodes.find((g) => g.name === node) ?? cib.remoteNodes.find((r) => r.name === node);
    if (!def)
      return controllerResult(
        6,
        started,
        `${node} is not a remote or guest node in the CIB`,
        OpStatus.done,
      );
    try {
      const client = await this.opener.open(
        host,
        node,
        {
          address: `${def.address}:${def.port}`,
          authKey: this.authKey,
          clientName: host,
          connectTimeoutMs: a.timeout ?? def.connectTimeout,
          deadAfterMs: this.deadAfterMs,
          // A lost connection is the scheduler's to recover (stop, start or fence), never
          // re-established behind its back: reconnecting by itself would hide the loss.
          reconnect: false,
        },
        signal,
      );
      if (this.closed) {
        // The controller closed while we were connecting: nobody will use (or close) it.
        await client.close();
        return controllerResult(1, started, 'the controller is closing', OpStatus.error);
      }
      const c: Connection = { node, host, executor: new RemoteNodeExecutor(client) };
      // Another start of the same connection may have finished meanwhile (one from an
      // aborted transition): the newest wins, the other is closed rather than left behind.
      const other = this.connections.get(node);
      this.connections.set(node, c);
      if (other) {
        this.stopMonitor(node, other);
        await other.executor.client.close();
      }
      this.watch(c);
      return controllerResult(0, started);
    } catch (err) {
      return controllerResult(1, started, (err as Error).message, OpStatus.error);
    }
  }

  /** Take over a connection made by a previous controller (hosted on `host`), watched from now on. */
  adopt(node: string, host: string, client: ExecutorClient): Connection {
    const c: Connection = { node, host, executor: new RemoteNodeExecutor(client) };
    this.connections.set(node, c);
    this.watch(c);
    return c;
  }

  /** Remote and guest nodes whose connection is up (made and never lost since): node -> hosting cluster node. */
  connected(): Map<string, string> {
    return new Map(
      [...this.connections.values()].filter((c) => this.alive(c)).map((c) => [c.node, c.host]),
    );
  }

  /** Connected and never lost since it was made. */
  private alive(c: Connection): boolean {
    return c.lost === undefined && c.executor.client.state === 'connected';
  }

  /** Mark the connection lost and report it (once: it stays lost) while it is the node's connection. */
  private lose(c: Connection, reason: string): void {
    if (c.lost !== undefined) return;
    c.lost = reason;
    this.stopMonitor(c.node, c);
    if (this.connections.get(c.node) === c) this.onLost(c, reason);
  }

  /**
   * The connection resource's recurring monitor (its configured interval and
   * timeout), the safety net under the client's heartbeat watchdog: every
   * interval the daemon is poked (a round trip on the connection, as
   * Pacemaker's controller pokes a remote node); no answer within the
   * timeout = the connection is lost, reported as any loss is (a failed
   * monitor). Runs until the connection is lost, dropped or the monitor
   * cancelled; a new recurring monitor replaces it.
   */
  private monitor(c: Connection, a: GraphAction): void {
    const ping = c.executor.client.ping?.bind(c.executor.client);
    if (!ping) return;
    this.stopMonitor(c.node);
    const ac = new AbortController();
    const timeoutMs = a.timeout ?? 20_000;
    let timer: NodeJS.Timeout;
    const tick = async (): Promise<void> => {
      if (ac.signal.aborted) return;
      try {
        await ping(timeoutMs, ac.signal);
      } catch (err) {
        if (!ac.signal.aborted) this.lose(c, `${a.operationKey} failed: ${(err as Error).message}`);
        return;
      }
      if (!ac.signal.aborted) timer = setTimeout(() => void tick(), a.interval);
    };
    timer = setTimeout(() => void tick(), a.interval);
    this.monitors.set(c.node, {
      connection: c,
      stop: () => {
        ac.abort();
        clearTimeout(timer);
      },
    });
  }

  /** Stop the node's connection monitor (only if it watches `c`, when given). */
  private stopMonitor(node: string, c?: Connection): void {
    const m = this.monitors.get(node);
    if (!m || (c && m.connection !== c)) return;
    m.stop();
    this.monitors.delete(node);
  }

  /**
   * Report the connection's loss (once: it stays lost) for as long as it is
   * the node's connection, whenever it happens — also a loss that happened
   * before this watch began (between the handshake and now).
   */
  private watch(c: Connection): void {
    const client = c.executor.client;
    const lost = (reason: string): void => this.lose(c, reason);
    const states = client.states()[Symbol.asyncIterator]();
    // Listening from here on; whatever happened before shows in the state.
    const first = states.next();
    if (client.state === 'down') lost('connection lost while it was being set up');
    void (async () => {
      for (let next = await first; !next.done; next = await states.next()) {
        const s = next.value;
        if (s.state === 'closed') break;
        if (s.state === 'down') lost(s.reason ?? 'connection lost');
      }
    })().catch(() => undefined);
  }

  /** Forget a connection and close it (the node was fenced or the connection stopped). */
  async drop(node: string): Promise<void> {
    const c = this.connections.get(node);
    if (!c) return;
    this.stopMonitor(node);
    this.connections.delete(node);
    await c.executor.client.close();
  }

  /** Forget the connections a lost (or fenced) cluster node hosted. */
  async dropHostedBy(host: string): Promise<void> {
    for (const c of [...this.connections.values()]) if (c.host === host) await this.drop(c.node);
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    for (const node of [...this.monitors.keys()]) this.stopMonitor(node);
    for (const c of this.connections.values()) await c.executor.client.close();
    this.connections.clear();
  }
}
