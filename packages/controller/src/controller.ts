import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { effectiveMeta, parseBoolean, readCib, setNodeAttribute } from '@remora/cib';
import type { CibStore, ResourceAttributeSet, XmlDocument } from '@remora/cib';
import * as admin from './admin';
import type { AttributeLifetime, MoveOptions } from './admin';
import { ClusterActions } from './cluster-actions';
import type { NodeKind } from './cluster-actions';
import type { Connection } from './connections';
import { ConnectionManager, isConnectionAction } from './connections';
import type { ConnectionOpener } from './connections';
import type { RemoteNodeExecutor } from './executor';
import { executed } from './executor';
import type { ExecutedOperation, ExecutorClient, NodeExecutor } from './executor';
import { ControllerError } from './errors';
import { Fencer } from './fencer';
import type { GraphAction, TransitionGraph } from './graph';
import { ActionKind, parseTransitionGraph } from './graph';
import { OpStatus, forgetRecurring, isFailure, recordOperation } from './lrm-record';
import {
  forgetHistory,
  recordNodeJoined,
  recordNodeLost,
  recordRemoteDown,
  recordRemoteStopped,
  recordRemoteUp,
} from './node-state';
import type { Scheduler } from './scheduler';
import type { ActionOutcome, TransitionReport } from './transition';
import { OperatorService } from './operator';
import { TransitionStatus, runTransition } from './transition';

const OWN = 'controller:';

export interface ControllerOptions {
  readonly store: CibStore;
  readonly scheduler: Scheduler;
  /** One executor per node name (cluster, remote and guest nodes). */
  readonly executors: ReadonlyMap<string, NodeExecutor>;
  readonly perNodeLimit?: number;
  /**
   * Actions in flight cluster-wide (Pacemaker's batch-limit; the graph's own
   * batch-limit applies when it is smaller). Default: no bound but the graph's.
   * Bound it when the nodes share CPUs (machines run as processes on one
   * host): every agent process started at once competes with the daemons'
   * heartbeats and this process's event loop.
   */
  readonly actionLimit?: number;
  /** The key remote and guest nodes' daemons accept (for connection resources). */
  readonly authKey?: Buffer;
  /** Re-run the scheduler at least this often, ms (cluster-recheck-interval; default 15 min). */
  readonly recheckIntervalMs?: number;
  /** Remote/guest connections: silence after which the node counts as lost, ms (default 1,500). */
  readonly connectionDeadAfterMs?: number;
  /**
   * Opens remote/guest connections on the cluster node the transition
   * names (distributed mode: on that member, see `ClusterNode`); default:
   * from this process.
   */
  readonly connections?: ConnectionOpener;
  /**
   * Connections to remote/guest nodes that outlived the previous DC (hosted
   * on a surviving member), taken over as they are: the controller listens
   * to each, then calls its `attach` (which starts its events).
   */
  readonly adopted?: readonly {
    readonly node: string;
    readonly host: string;
    readonly client: ExecutorClient;
    readonly attach: () => Promise<void>;
  }[];
  /** Where fence agents (`stonith:fence_*` resources) live (default /usr/sbin). */
  readonly fenceAgentDir?: string;
  /**
   * A cluster node was told to shut down (do_shutdown, after it drained):
   * the embedding application stops it. Its status already says it left.
   */
  readonly onNodeShutdown?: (node: string) => void;
  /**
   * Follow cluster nodes' executor connections as membership (embedded
   * mode): a lost connection records the node as lost (unclean: fenced when
   * fencing is enabled), a re-established one as (re)joined with its
   * history wiped and re-probed. Default true.
   */
  readonly membershipFromExecutors?: boolean;
  /**
   * Start as a cluster whose nodes all (re)join: every node's history and
   * transient attributes are wiped first, so everything is re-probed and
   * connections to remote/guest nodes are made again (a restarted
   * controller in embedded mode). Default false.
   */
  readonly startFresh?: boolean;
  /** Called after each transition (logs, demos, tests). */
  readonly onTransition?: (report: TransitionReport, graph: TransitionGraph) => void;
}

/**
 * The DC's event loop: runs the scheduler on every relevant event (start,
 * a configuration or operator change to the CIB, a recurring operation's
 * result changing, the recheck timer), executes the transition through the
 * node executors, records each result in the CIB status, and recomputes
 * until the scheduler has nothing left to do. A relevant event aborts the
 * running transition (running actions finish and are recorded).
 */
export class Controller implements AsyncDisposable {
  private readonly uuid = randomUUID();
  private readonly stop = new AbortController();
  private dirty = true;
  private wake: (() => void) | undefined;
  private current: AbortController | undefined;
  private idleWaiters: (() => void)[] = [];
  private converged = false;
  /** The CIB version (admin_epoch.epoch.num_updates) the last empty transition was computed from. */
  private convergedAt = '';
  private readonly recurring = new Map<string, GraphAction>();
  private readonly loop: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly connections: ConnectionManager;
  /** Answers `remora` commands relayed from every node's daemon. */
  private readonly operator: OperatorService;
  private readonly cluster: ClusterActions;
  private readonly writes = new Set<Promise<unknown>>();
  private readonly nodeAborts = new Map<string, AbortController>();
  private readonly pendingStatus: {
    edit: (doc: XmlDocument) => void;
    reason: string;
    resolve: () => void;
    reject: (err: unknown) => void;
  }[] = [];
  private statusWriter: Promise<void> | undefined;
  /** Every cluster node's executor (addNode adds to it). */
  private readonly executors: Map<string, NodeExecutor>;
  readonly fencer: Fencer;
  /** Transitions run so far. */
  transitions = 0;

  private constructor(private readonly options: ControllerOptions) {
    this.executors = new Map(options.executors);
    // One listener per watched node and per running action.
    setMaxListeners(0, this.stop.signal);
    this.timer = setInterval(
      // A recheck never aborts a running transition: the loop recomputes after it anyway.
      () => {
        if (!this.current) this.trigger('recheck');
      },
      options.recheckIntervalMs ?? 15 * 60_000,
    );
    this.connections = new ConnectionManager(
      options.store,
      options.authKey ?? Buffer.alloc(0),
      (c, reason) => void this.connectionLost(c, reason),
      options.connectionDeadAfterMs,
      options.connections,
    );
    this.operator = new OperatorService({
      store: options.store,
      idle: (signal) => this.idle(signal),
      trigger: (reason) => this.trigger(reason),
    });
    this.fencer = new Fencer(options.fenceAgentDir);
    this.cluster = new ClusterActions({
      store: options.store,
      fencer: this.fencer,
      reason: OWN,
      nodeKind: (node) => this.nodeKind(node),
      onFenced: (node) => {
        this.forgetNode(node);
        void this.connections.dropHostedBy(node);
      },
      onShutdown: (node) => {
        this.forgetNode(node);
        options.onNodeShutdown?.(node);
      },
      onDeviceMonitor: (a, r) => {
        void this.record(a.onNode ?? '', a, r).then(() =>
          this.trigger(`${a.operationKey} changed`),
        );
      },
    });
    for (const a of options.adopted ?? []) {
      const c = this.connections.adopt(a.node, a.host, a.client);
      this.wireConnection(c);
      // Once its feeds are listened to: what the member queued meanwhile arrives first.
      setImmediate(() => void a.attach().catch(() => undefined));
    }
    void this.watchCib();
    for (const [node, x] of this.executors) this.watchExecutor(node, x);
    this.loop = (options.startFresh ? this.wipeStatus() : Promise.resolve()).then(() => this.run());
  }

  private watchExecutor(node: string, x: NodeExecutor): void {
    if (!isRemote(x)) return;
    this.answerRelay(node, x);
    void this.watchResults(node, x);
    void this.watchLostResults(node, x);
    if (this.options.membershipFromExecutors ?? true) void this.watchMembership(node, x);
  }

  /**
   * A cluster node joined while this controller runs (distributed mode: a
   * member that was not up when it started, or joined late): its executor
   * is added and its history starts empty, so the scheduler probes it; the
   * rest goes on undisturbed (running actions finish, nothing else is
   * re-probed), as when Pacemaker's DC welcomes a node.
   */
  async addNode(node: string, executor: NodeExecutor): Promise<void> {
    if (this.executors.has(node))
      throw new ControllerError(`Controller.addNode: ${node} already has an executor`);
    this.executors.set(node, executor);
    this.watchExecutor(node, executor);
    await this.writeStatus((doc) => recordNodeJoined(doc, node), `${OWN} ${node} joined`);
    this.trigger(`${node} joined`);
  }

  private async wipeStatus(): Promise<void> {
    await this.options.store.modify(
      (doc) => {
        for (const ns of readCib(doc).status)
          if (this.executors.has(ns.uname)) recordNodeJoined(doc, ns.uname);
          else recordRemoteDown(doc, ns.uname);
      },
      { scope: 'status', reason: `${OWN} every node (re)joined` },
    );
  }

  static start(options: ControllerOptions): Controller {
    for (const k of ['perNodeLimit', 'actionLimit'] as const) {
      const v = options[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1))
        throw new ControllerError(`Controller: ${k} must be a whole number >= 1 (got ${v})`);
    }
    return new Controller(options);
  }

  /** Ask for a new scheduler run; aborts the running transition. */
  trigger(_reason: string): void {
    this.dirty = true;
    this.converged = false;
    this.current?.abort();
    this.wake?.();
  }

  /**
   * Remote and guest nodes this controller is connected to now (node ->
   * the cluster node hosting the connection); a connection lost stays out
   * until the scheduler has recovered it.
   */
  remoteConnections(): Map<string, string> {
    return this.connections.connected();
  }

  /** Resolves when the scheduler has nothing left to do. */
  idle(signal?: AbortSignal): Promise<void> {
    const v = this.options.store.version;
    if (
      this.converged &&
      !this.dirty &&
      `${v.adminEpoch}.${v.epoch}.${v.numUpdates}` === this.convergedAt
    )
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.idleWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  }

  private nodeKind(node: string): NodeKind | undefined {
    if (this.executors.has(node)) return 'cluster';
    const cib = this.options.store.cib;
    if (cib.guestNodes.some((g) => g.name === node)) return 'guest';
    if (cib.remoteNodes.some((r) => r.name === node)) return 'remote';
    return cib.nodes.some((n) => n.name === node) ? 'cluster' : undefined;
  }

  /** A node's results and connection are gone (fenced, shut down, lost). */
  private forgetNode(node: string): void {
    this.abortNode(node, 'lost');
    this.fencer.unregisterNode(node);
    for (const k of [...this.recurring.keys()])
      if (k.startsWith(`${node}/`)) this.recurring.delete(k);
    if (!this.executors.has(node)) void this.connections.drop(node);
  }

  private write(p: Promise<unknown>): void {
    const q = p.catch(() => undefined);
    this.writes.add(q);
    void q.finally(() => this.writes.delete(q));
  }

  /**
   * A remote or guest node's daemon is shutting down (SIGTERM) and asks to
   * be drained: refused when its connection is unmanaged (or the cluster is
   * in maintenance), else the node gets the `shutdown` attribute; the
   * scheduler stops or moves its resources, then stops the connection, and
   * the daemon exits once disconnected.
   */
  private async drainRequested(node: string, reason: string): Promise<boolean> {
    const cib = this.options.store.cib;
    const guest = cib.guestNodes.find((g) => g.name === node);
    const rsc = guest ? guest.container : node;
    const managed =
      parseBoolean(effectiveMeta(cib, rsc)['is-managed'], true) &&
      !parseBoolean(cib.properties['maintenance-mode'], false);
    if (!managed) return false;
    await admin.drain(this.options.store, node, reason);
    return true;
  }

  private async watchMembership(node: string, x: RemoteNodeExecutor): Promise<void> {
    // Only changes count: the client also reports its unchanged state (e.g. with a notice
    // that the daemon dropped unacknowledged results), which is no membership event.
    let last = x.client.state;
    try {
      for await (const s of x.client.states(this.stop.signal)) {
        if (s.state === 'closed') return;
        if (s.state === last) continue;
        last = s.state;
        const joined = s.state === 'connected';
        this.forgetNode(node);
        // The connections it hosted went with it (distributed mode): the scheduler moves them.
        if (!joined) await this.connections.dropHostedBy(node);
        await this.options.store.modify(
          (doc) => (joined ? recordNodeJoined(doc, node) : recordNodeLost(doc, node)),
          {
            scope: 'status',
            reason: `${OWN} ${node} ${joined ? 'joined' : `lost (${s.reason ?? 'connection down'})`}`,
          },
        );
        this.trigger(`${node} ${joined ? 'joined' : `lost: ${s.reason ?? ''}`}`);
      }
    } catch {
      // closed
    }
  }

  /**
   * The node's daemon dropped results we never saw (its bounded log
   * overflowed while we were away): what its history says may be stale (a
   * monitor failure may be among them). Forget the node's operation history
   * (fail counts stay) and its recurring operations, so the scheduler
   * re-probes every resource there, as after a refresh.
   */
  private async watchLostResults(node: string, x: RemoteNodeExecutor): Promise<void> {
    try {
      for await (const s of x.client.states(this.stop.signal)) {
        if (s.state === 'closed') return;
        if (!s.lostResults) continue;
        const [first, last] = s.lostResults;
        for (const k of [...this.recurring.keys()])
          if (k.startsWith(`${node}/`)) this.recurring.delete(k);
        await this.writeStatus(
          (doc) => forgetHistory(doc, node),
          `${OWN} ${node} lost results ${first}-${last}: re-probing`,
        );
        this.trigger(`${node} lost results`);
      }
    } catch {
      // closed
    }
  }

  // ---- operator requests (CIB edits; the controller reacts to them as to any change) ----

  /** Put a node in standby or take it out (`crm_standby`). */
  standby(node: string, on: boolean): Promise<void> {
    return admin.standby(this.options.store, node, on);
  }

  /** Put a node in maintenance or take it out. */
  maintenance(node: string, on: boolean): Promise<void> {
    return admin.maintenance(this.options.store, node, on);
  }

  /** Ask a node to drain its resources and leave (the `shutdown` attribute). */
  drain(node: string): Promise<void> {
    return admin.drain(this.options.store, node);
  }

  /** Forget failures and history of a resource (or every failed one), on a node or all. */
  cleanup(rsc?: string, node?: string): Promise<string[]> {
    return admin.cleanup(this.options.store, rsc, node);
  }

  /** Move a resource to a node (`cli-prefer-<rsc>`). */
  move(rsc: string, node: string, options?: MoveOptions): Promise<void> {
    return admin.move(this.options.store, rsc, node, options);
  }

  /** Ban a resource from a node (default: where it runs). Returns the node. */
  ban(rsc: string, node?: string, options?: MoveOptions): Promise<string> {
    return admin.ban(this.options.store, rsc, node, options);
  }

  /** Remove a resource's move/ban constraints. Returns their ids. */
  clear(rsc: string, node?: string): Promise<string[]> {
    return admin.clear(this.options.store, rsc, node);
  }

  /** Set or delete a node attribute. */
  setAttribute(
    node: string,
    name: string,
    value: string | undefined,
    lifetime?: AttributeLifetime,
  ): Promise<void> {
    return admin.setAttribute(this.options.store, node, name, value, lifetime);
  }

  /** Set or delete a promotion score. */
  setPromotionScore(
    rsc: string,
    node: string,
    score: number | 'INFINITY' | '-INFINITY' | undefined,
  ): Promise<void> {
    return admin.setPromotionScore(this.options.store, rsc, node, score);
  }

  /** Set or delete a resource's meta attribute, agent parameter or utilization. */
  setResourceAttribute(
    rsc: string,
    set: ResourceAttributeSet,
    name: string,
    value: string | undefined,
  ): Promise<void> {
    return admin.setResourceAttribute(this.options.store, rsc, set, name, value);
  }

  /** Grant or revoke a ticket, or put it in standby / activate it. */
  setTicket(ticket: string, change: { granted?: boolean; standby?: boolean }): Promise<void> {
    return admin.setTicket(this.options.store, ticket, change);
  }

  private async watchCib(): Promise<void> {
    try {
      for await (const change of this.options.store.changes(this.stop.signal))
        if (!change.reason.startsWith(OWN)) this.trigger(`cib ${change.scope} change`);
    } catch {
      // closed
    }
  }

  /** Answer operator commands run on `node` (its daemon relays them over this connection). */
  private answerRelay(node: string, x: RemoteNodeExecutor): void {
    x.client.openRelay(async (call) =>
      this.operator.answer(call.command, call.argumentsJson, node),
    );
  }

  private async watchResults(node: string, x: RemoteNodeExecutor): Promise<void> {
    try {
      for await (const r of x.client.results(this.stop.signal)) {
        // One-shot results come back through execute(); a cancelled recurring operation is no failure.
        if (r.interval === 0 || r.execStatus === 'cancelled') continue;
        const action = this.recurring.get(`${node}/${r.operationKey}`);
        if (!action) continue;
        // Not awaited: results keep their order in the write queue, and the
        // next ones join the same batch.
        const failed = isFailure({ ...executed(r), targetRc: action.targetRc });
        // A failed container takes its guest with it: a connection attempt to
        // that guest (or an action there) waiting for its timeout stops now.
        if (failed) {
          const rsc = action.resource?.id;
          for (const g of this.options.store.cib.guestNodes)
            if (g.container === rsc) this.abortNode(g.name, `its container ${rsc} failed`);
        }
        this.write(
          this.record(node, action, executed(r)).then(() => {
            if (failed) this.trigger(`${r.operationKey} on ${node} failed`);
          }),
        );
      }
    } catch {
      // closed
    }
  }

  /**
   * Results are written in batches: a write starts once the event loop has
   * read whatever arrived in the same turn, and under load it waits twice as
   * long as the previous write took (at most 2 s), so everything that
   * arrives meanwhile joins it and writing takes at most a third of this
   * thread (when each write rewrote the whole CIB, at 16 nodes / 64 guests
   * a write per result kept this process busy writing and starved its event
   * loop; a status write now costs what it changes — @remora/cib's
   * copy-on-write versions — so writes follow each other at once).
   * Edits are applied in the order they were asked for.
   */
  private writeStatus(edit: (doc: XmlDocument) => void, reason: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingStatus.push({ edit, reason, resolve, reject });
      this.statusWriter ??= this.writePendingStatus();
    });
  }

  private async writePendingStatus(): Promise<void> {
    let lastCostMs = 0;
    while (this.pendingStatus.length > 0) {
      await new Promise((r) =>
        lastCostMs < 5 ? setImmediate(r) : setTimeout(r, Math.min(2 * lastCostMs, 2000)),
      );
      const batch = this.pendingStatus.splice(0);
      const started = performance.now();
      try {
        await this.options.store.modify(
          (doc) => {
            for (const b of batch) b.edit(doc);
          },
          { scope: 'status', reason: batch.map((b) => b.reason).join('; ') },
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
      lastCostMs = performance.now() - started;
    }
    this.statusWriter = undefined;
  }

  private async record(node: string, a: GraphAction, r: ExecutedOperation): Promise<void> {
    const failed = isFailure({ ...r, targetRc: a.targetRc });
    await this.writeStatus((doc) => {
      recordOperation(doc, {
        node,
        remoteNode: !this.executors.has(node),
        resource: a.resource!,
        operation: a.operation,
        interval: a.interval,
        attributes: a.attributes,
        ...r,
        transitionKey: `${a.id}:${this.transitions}:${a.targetRc}:${this.uuid}`,
        targetRc: a.targetRc,
      });
      // A probe that reports a state (not running, running, promoted) is no failure, as in
      // Pacemaker (e.g. the re-probe after a cleanup finding the resource running).
      if (failed && !(a.operation === 'monitor' && a.interval === 0 && [0, 7, 8].includes(r.rc))) {
        const name = `${a.resource!.id}#${a.operation}_${a.interval}`;
        const count = a.operation === 'start' ? 'INFINITY' : '1';
        setNodeAttribute(doc, node, `fail-count-${name}`, count, { lifetime: 'reboot' });
        setNodeAttribute(doc, node, `last-failure-${name}`, String(Math.floor(Date.now() / 1000)), {
          lifetime: 'reboot',
        });
      }
    }, `${OWN} ${a.operationKey} on ${node}`);
  }

  private async connectionLost(c: Connection, reason: string): Promise<void> {
    if (c.executor.client.hostUnreachable) {
      // The cluster node hosting it may be lost: then it is fenced and the scheduler moves
      // the connection (its monitor did not fail; as in Pacemaker, losing the router node
      // is no reason to fence the remote node). If it is still a member after a
      // membership timeout, the connection itself failed.
      this.abortNode(c.node, `connection lost: ${reason}`);
      await new Promise((r) => setTimeout(r, (this.options.connectionDeadAfterMs ?? 1500) + 1000));
      if (this.stop.signal.aborted || this.connections.connections.get(c.node) !== c) return;
    }
    const monitor = [...this.recurring.entries()].find(
      ([k, a]) =>
        k.startsWith(`${c.host}/`) && a.resource?.id === c.node && a.operation === 'monitor',
    )?.[1];
    if (monitor)
      await this.record(c.host, monitor, {
        rc: 1,
        opStatus: OpStatus.error,
        callId: 0,
        exitReason: `connection to ${c.node} lost: ${reason}`,
        startTime: Date.now(),
        runTime: 0,
        queueTime: 0,
      }).catch(() => undefined);
    this.abortNode(c.node, `connection lost: ${reason}`);
    this.trigger(`connection to ${c.node} lost`);
  }

  /** Answer a remote/guest node's relayed commands and drain requests, follow its results. */
  private wireConnection(c: Connection): void {
    this.answerRelay(c.node, c.executor);
    c.executor.client.onDrainRequest((req) => this.drainRequested(c.node, req.reason));
    void this.watchResults(c.node, c.executor);
    void this.watchLostResults(c.node, c.executor);
  }

  private executorFor(node: string): NodeExecutor | undefined {
    return this.executors.get(node) ?? this.connections.connections.get(node)?.executor;
  }

  /**
   * What may cut a running action short. Not the transition's abort (as in
   * Pacemaker, actions in flight finish and are recorded): the controller
   * closing, the node it runs on being lost or fenced, or its timeout plus
   * a margin (cluster-delay).
   */
  private actionSignal(a: GraphAction, node = a.onNode ?? ''): AbortSignal {
    let c = this.nodeAborts.get(node);
    if (!c || c.signal.aborted) {
      c = new AbortController();
      setMaxListeners(0, c.signal);
      this.nodeAborts.set(node, c);
    }
    return AbortSignal.any([
      this.stop.signal,
      c.signal,
      AbortSignal.timeout((a.timeout ?? 60_000) + 30_000),
    ]);
  }

  /** Actions running on a node that was lost or fenced will not report: stop waiting for them. */
  private abortNode(node: string, reason: string): void {
    this.nodeAborts.get(node)?.abort(new Error(`${node}: ${reason}`));
    this.nodeAborts.delete(node);
  }

  private async runAction(
    a: GraphAction,
    _transition: AbortSignal,
    release: () => void,
  ): Promise<ActionOutcome> {
    // Cluster events (fencing a node above all) run on the DC, whatever happens to their target.
    if (a.kind === ActionKind.crmEvent)
      return this.cluster.crmEvent(a, this.actionSignal(a, '#dc'));
    const signal = this.actionSignal(a);
    try {
      return await this.runOperation(a, signal, release);
    } catch (err) {
      // Say why it was cut short (node lost, timeout, closing), not only that it was.
      const why = signal.aborted
        ? ` (${String((signal.reason as Error)?.message ?? signal.reason)})`
        : '';
      throw new Error(`${a.operationKey} on ${a.onNode}: ${(err as Error).message}${why}`, {
        cause: err,
      });
    }
  }

  private async runOperation(
    a: GraphAction,
    signal: AbortSignal,
    release: () => void,
  ): Promise<ActionOutcome> {
    const node = a.onNode ?? '';
    if (a.resource?.class === 'stonith') {
      if (a.operation === 'cancel') {
        this.cluster.cancel(node, a.resource.id);
        return { confirmed: true };
      }
      const r = await this.cluster.device(a, signal);
      await this.record(node, a, r);
      return isFailure({ ...r, targetRc: a.targetRc })
        ? { confirmed: false, detail: `${a.operationKey} on ${node}: rc ${r.rc} ${r.exitReason}` }
        : { confirmed: true };
    }
    if (isConnectionAction(a)) {
      // A connection attempt ends early when the remote/guest node itself is fenced.
      const r = await this.connections.run(
        a,
        AbortSignal.any([signal, this.actionSignal(a, a.resource!.id)]),
      );
      const remote = a.resource!.id;
      if (a.operation === 'start' && r.rc === 0) {
        await this.options.store.modify((doc) => recordRemoteUp(doc, remote), {
          scope: 'status',
          reason: `${OWN} ${remote} connected`,
        });
        const c = this.connections.connections.get(remote);
        if (c) this.wireConnection(c);
      }
      if (a.operation === 'stop' && r.rc === 0)
        await this.options.store.modify((doc) => recordRemoteStopped(doc, remote), {
          scope: 'status',
          reason: `${OWN} ${remote} disconnected`,
        });
      if (a.interval > 0) this.recurring.set(`${node}/${a.operationKey}`, a);
      await this.record(node, a, r);
      return isFailure({ ...r, targetRc: a.targetRc })
        ? { confirmed: false, detail: `${a.operationKey} on ${node}: ${r.exitReason}` }
        : { confirmed: true };
    }
    const x = this.executorFor(node);
    if (!x) return { confirmed: false, detail: `no executor for node ${node}` };
    if (a.operation === 'cancel') {
      const op = a.attributes.CRM_meta_operation ?? 'monitor';
      await x.cancel(a.resource!.id, op, a.interval);
      this.recurring.delete(`${node}/${a.resource!.id}_${op}_${a.interval}`);
      await this.options.store.modify(
        (doc) => forgetRecurring(doc, node, a.resource!.id, op, a.interval),
        {
          scope: 'status',
          reason: `${OWN} cancel ${a.operationKey}`,
        },
      );
      return { confirmed: true };
    }
    const r = await x.execute(a, signal);
    release(); // the node's part is done; recording is ours
    if (a.interval > 0) this.recurring.set(`${node}/${a.operationKey}`, a);
    await this.record(node, a, r);
    const failed = isFailure({ ...r, targetRc: a.targetRc });
    return failed
      ? {
          confirmed: false,
          detail: `${a.operationKey} on ${node}: rc ${r.rc}, op-status ${r.opStatus}${r.exitReason ? ` (${r.exitReason})` : ''}`,
        }
      : { confirmed: true };
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      if (!this.dirty) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.dirty = false;
      let graph: TransitionGraph;
      const v = this.options.store.version;
      const version = `${v.adminEpoch}.${v.epoch}.${v.numUpdates}`;
      try {
        graph = parseTransitionGraph(
          await this.options.scheduler.schedule(this.options.store.xml, this.stop.signal),
        );
      } catch (err) {
        if (this.stop.signal.aborted) return;
        process.emitWarning(`remora controller: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
        this.dirty = true;
        continue;
      }
      if (graph.synapses.length === 0) {
        if (!this.dirty) {
          this.converged = true;
          this.convergedAt = version;
          for (const w of this.idleWaiters.splice(0)) w();
        }
        continue;
      }
      this.transitions++;
      this.current = new AbortController();
      setMaxListeners(0, this.current.signal);
      const report = await runTransition(graph, {
        run: (a, signal, release) => this.runAction(a, signal, release),
        onPseudo: (a) => this.write(this.cluster.pseudo(a)),
        perNodeLimit: this.options.perNodeLimit,
        batchLimit: combinedLimit(graph.batchLimit, this.options.actionLimit),
        signal: this.current.signal,
      });
      this.current = undefined;
      await Promise.all(this.writes);
      this.options.onTransition?.(report, graph);
      // A failed action is recomputed at once but not in a tight loop (e.g. a fence device failing).
      if (report.status === TransitionStatus.failed) {
        // (A probe finding something running is news, not a failure: recompute at once.)
        const fencing = report.failed.some((f) => f.action.operation === 'stonith');
        const probesOnly = report.failed.every(
          (f) => f.action.operation === 'monitor' && f.action.interval === 0,
        );
        if (!probesOnly) await new Promise((r) => setTimeout(r, fencing ? 1000 : 100));
      }
      if (report.status !== 'complete') this.dirty = true;
      else this.dirty = true; // re-check: a complete transition may leave follow-up work
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.current?.abort();
    clearInterval(this.timer);
    this.cluster.close();
    this.wake?.();
    await this.loop;
    await this.connections.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The smaller of two limits where 0 or undefined means none. */
function combinedLimit(graph: number, option: number | undefined): number {
  const limits = [graph, option ?? 0].filter((l) => l > 0);
  return limits.length > 0 ? Math.min(...limits) : 0;
}

function isRemote(x: NodeExecutor): x is RemoteNodeExecutor {
  return 'client' in x;
}
