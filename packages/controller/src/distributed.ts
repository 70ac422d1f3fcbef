import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  CibStore,
  FileBackend,
  compareVersions,
  formatVersion,
  readCib,
  parseXml,
} from '@remora/cib';
import type { CibVersion } from '@remora/cib';
import { RemoteClient, RemoteDaemon, checkToken, makeToken } from '@remora/remote-transport';
import { Controller } from './controller';
import type { ControllerOptions } from './controller';
import { ControllerError } from './errors';
import { LOCAL_CONNECTIONS } from './connections';
import type { ConnectionOpener } from './connections';
import { RemoteNodeExecutor } from './executor';
import { HostedConnections, RoutedClient } from './routed';
import type { PeerLink } from './routed';
import { recordNodeJoined, recordNodeLost } from './node-state';
import type { Scheduler } from './scheduler';

/** One cluster node of a distributed cluster, as every node's configuration lists it. */
export interface ClusterMember {
  readonly name: string;
  /** The node id (corosync-style): with no DC in charge, the lowest id among connected members becomes DC. */
  readonly id: number;
  /** `host:port` of the node's peer endpoint (membership, CIB replication). */
  readonly peer: string;
  /** `host:port` of the node's executor (its remote daemon). */
  readonly executor: string;
}

export interface ClusterNodeOptions {
  /** This node's name (one of `members`). */
  readonly name: string;
  /** Every cluster node (guests and remote nodes are not members: they never vote or become DC). */
  readonly members: readonly ClusterMember[];
  readonly authKey: Buffer;
  /** The CIB every node starts from (the DC's copy then replicates to the others). */
  readonly initialCib: string;
  /**
   * Where this node keeps its copy of the CIB on disk (default: in memory
   * only). The DC writes through a journaled `CibStore` on it (status
   * updates appended to `<file>.journal`, fdatasync'd before they count as
   * done); another member writes each replicated copy there whole. At start
   * the node takes the newer of this file (its journal replayed) and
   * `initialCib`.
   */
  readonly cibFile?: string;
  /** A Unix socket where `remora` commands on this node reach the cluster (its executor's local endpoint). */
  readonly localSocket?: string;
  readonly scheduler: Scheduler;
  /** This node's executor: agents' environment (HA_RSCTMP etc.) and OCF root. */
  readonly runner?: { readonly env?: NodeJS.ProcessEnv; readonly ocfRoot?: string };
  readonly fenceAgentDir?: string;
  /** A member not heard from for this long is gone, ms (default 1,500). */
  readonly deadAfterMs?: number;
  /**
   * At startup, how long to wait for every member before leading without
   * some (Pacemaker's dc-deadtime; those not heard are then fenced), ms
   * (default 3,000).
   */
  readonly dcDeadtimeMs?: number;
  readonly onTransition?: ControllerOptions['onTransition'];
  /** Membership and DC changes, for logs. */
  readonly log?: (line: string) => void;
}

/** What a member says about itself on its peer endpoint. */
export interface MemberState {
  readonly name: string;
  readonly id: number;
  /** Whom it takes for the DC ('' when none). */
  readonly dc: string;
  readonly quorate: boolean;
  readonly cibVersion: CibVersion;
  /** It runs the controller (it is the DC in charge). */
  readonly leading?: boolean;
  /** The remote/guest nodes whose connections it hosts for the DC. */
  readonly connections?: readonly string[];
}

const TOKEN_HEADER = 'x-remora-token';

function versionOf(xml: string): CibVersion {
  return readCib(parseXml(xml, { source: 'replicated CIB' })).version;
}

/**
 * A cluster node in distributed mode: its own process on its own address,
 * with its executor (an in-process `RemoteDaemon`), a peer endpoint
 * (authenticated HTTP: membership heartbeats and CIB replication) and,
 * while it is the DC, the controller. Membership: members poll each other
 * every 200 ms; one not heard from for `deadAfterMs` is gone. A DC in
 * charge stays DC; with none (or several, partitions merging) the DC is
 * the lowest id among them, else among the members this node hears
 * (itself included); a member joining later is added to the running
 * controller (probed; nothing else disturbed);
 * quorum is a majority of the configured members (guests and remote nodes
 * never count). The DC pushes every CIB change to the other members; a
 * member becoming DC takes over from its copy: members it hears re-join
 * (history wiped and re-probed), the others are lost (fenced when fencing
 * is on) with their last replicated history, so nothing runs twice.
 */
export class ClusterNode implements AsyncDisposable {
  private readonly self: ClusterMember;
  private readonly lastSeen = new Map<string, number>();
  private readonly peerStates = new Map<string, MemberState>();
  private cibXml: string;
  private server!: Server;
  private daemon!: RemoteDaemon;
  private timer: NodeJS.Timeout | undefined;
  private controller: Controller | undefined;
  private store: CibStore | undefined;
  private clients: RemoteClient[] = [];
  private transition: Promise<void> = Promise.resolve();
  private closed = false;
  private pushTimer: NodeJS.Timeout | undefined;
  private feed: AbortController | undefined;
  private readonly startedAt = Date.now();
  /** The members the running controller has executors for. */
  private led = new Set<string>();
  /** Members being added to the running controller. */
  private readonly joining = new Set<string>();
  private hosted!: HostedConnections;
  /** With a cibFile and no store open on it: the CIB text the file holds. */
  private fileXml: string | undefined;
  /** The newest replicated copy waiting to be written to the file. */
  private replicaPending: string | undefined;
  private replicaWrites: Promise<void> = Promise.resolve();
  /** Whom this node takes for the DC. */
  dc = '';
  quorate = false;

  private constructor(private readonly options: ClusterNodeOptions) {
    const self = options.members.find((m) => m.name === options.name);
    if (!self)
      throw new ControllerError(
        `cluster node ${options.name}: not among the members (${options.members.map((m) => m.name).join(', ')})`,
      );
    const ids = new Set(options.members.map((m) => m.id));
    if (ids.size !== options.members.length)
      throw new ControllerError('cluster members: node ids must be unique');
    this.self = self;
    this.cibXml = options.initialCib;
  }

  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const n = new ClusterNode(options);
    await n.boot();
    return n;
  }

  private log(line: string): void {
    this.options.log?.(`${this.self.name}: ${line}`);
  }

  private async boot(): Promise<void> {
    if (this.options.cibFile) {
      // What this node kept (a journal left by a crash replayed), unless the configured CIB is newer.
      const kept = await CibStore.open(this.options.cibFile, { initial: this.options.initialCib });
      if (compareVersions(kept.version, versionOf(this.options.initialCib)) >= 0)
        this.cibXml = kept.xml;
      this.fileXml = kept.xml;
      await kept.close();
      this.log(`CIB ${this.options.cibFile} at ${formatVersion(versionOf(this.cibXml))}`);
    }
    this.daemon = await RemoteDaemon.start({
      listen: this.self.executor,
      authKey: this.options.authKey,
      nodeName: this.self.name,
      runner: this.options.runner,
      localSocket: this.options.localSocket,
    });
    this.hosted = new HostedConnections(this.options.authKey, (l) => this.log(l));
    this.server = createServer((req, res) => void this.serve(req, res));
    const [host, port] = splitAddress(this.self.peer);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.timer = setInterval(() => void this.heartbeat(), 200);
    void this.heartbeat();
  }

  /** The CIB as this node knows it (the DC's live copy, else the last replicated one). */
  get cib(): string {
    return this.store?.xml ?? this.cibXml;
  }

  get isDc(): boolean {
    return this.controller !== undefined;
  }

  /** The running controller while this node is the DC. */
  get dcController(): Controller | undefined {
    return this.controller;
  }

  private state(): MemberState {
    return {
      name: this.self.name,
      id: this.self.id,
      dc: this.dc,
      quorate: this.quorate,
      cibVersion: versionOf(this.cib),
      leading: this.controller !== undefined,
      // Those it hosts for the DC, and (the DC) those it holds itself.
      connections: [
        ...this.hosted.nodes,
        ...[...(this.controller?.remoteConnections() ?? [])]
          .filter(([, host]) => host === this.self.name)
          .map(([node]) => node),
      ].sort(),
    };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const why = checkToken(this.options.authKey, req.headers[TOKEN_HEADER] as string | undefined);
    if (why) {
      res.writeHead(401).end(why);
      return;
    }
    try {
      const body = async (): Promise<string> => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      };
      if (await this.hosted.serve(req, res, body)) return;
      if (req.method === 'GET' && req.url === '/state') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(this.state()));
      } else if (req.method === 'GET' && req.url === '/cib') {
        res.writeHead(200, { 'content-type': 'application/xml' }).end(this.cib);
      } else if (req.method === 'PUT' && req.url === '/cib') {
        const xml = await body();
        if (this.controller) {
          res.writeHead(409).end('this node is the DC');
          return;
        }
        versionOf(xml); // must parse
        this.cibXml = xml; // the DC's copy is authoritative
        await this.keepReplica(xml);
        res.writeHead(204).end();
      } else res.writeHead(404).end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(400).end((err as Error).message);
      else res.end();
    }
  }

  /**
   * Write a replicated copy to the CIB file whole (coalesced: while a write
   * runs, only the newest copy waits). Resolves once it is on disk.
   */
  private keepReplica(xml: string): Promise<void> {
    const file = this.options.cibFile;
    if (!file) return Promise.resolve();
    const queued = this.replicaPending !== undefined;
    this.replicaPending = xml;
    if (!queued)
      this.replicaWrites = this.replicaWrites
        .then(async () => {
          const next = this.replicaPending!;
          this.replicaPending = undefined;
          if (next === this.fileXml || this.store) return;
          await new FileBackend(file).save(next, this.fileXml ?? '');
          this.fileXml = next;
        })
        .catch((err: unknown) => this.log(`could not write ${file}: ${(err as Error).message}`));
    return this.replicaWrites;
  }

  /** Requests to a member's peer endpoint for the connections it hosts (no timeout but the caller's). */
  private link(member: ClusterMember): PeerLink {
    const headers = (): Record<string, string> => ({
      [TOKEN_HEADER]: makeToken(this.options.authKey),
    });
    return {
      member: member.name,
      post: async (path, body, signal) => {
        const r = await fetch(`http://${member.peer}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { ...headers(), 'content-type': 'application/json' },
          signal,
        });
        const text = await r.text();
        if (!r.ok) throw new ControllerError(`${member.name} POST ${path}: ${r.status} ${text}`);
        return text;
      },
      stream: async (path, signal) => {
        const r = await fetch(`http://${member.peer}${path}`, { headers: headers(), signal });
        if (!r.ok || !r.body)
          throw new ControllerError(`${member.name} GET ${path}: ${r.status} ${await r.text()}`);
        return r.body;
      },
    };
  }

  /**
   * Where the DC opens a remote/guest connection: on the member the
   * transition names (the DC itself: from this process).
   */
  private connectionOpener(): ConnectionOpener {
    return {
      open: (host, node, options, signal) => {
        const member = this.options.members.find((m) => m.name === host);
        if (!member || member === this.self)
          return LOCAL_CONNECTIONS.open(host, node, options, signal);
        this.log(`asking ${host} to host the connection to ${node}`);
        return RoutedClient.open(
          this.link(member),
          {
            node,
            address: options.address,
            clientName: options.clientName,
            connectTimeoutMs: options.connectTimeoutMs,
            deadAfterMs: options.deadAfterMs,
            reconnect: options.reconnect,
            dc: this.self.name,
          },
          signal,
        );
      },
      rehost: (from, to) => from !== to,
    };
  }

  private async request(
    member: ClusterMember,
    method: string,
    path: string,
    body?: string,
  ): Promise<string> {
    const r = await fetch(`http://${member.peer}${path}`, {
      method,
      body,
      headers: { [TOKEN_HEADER]: makeToken(this.options.authKey) },
      signal: AbortSignal.timeout(Math.max(500, (this.options.deadAfterMs ?? 1500) / 2)),
    });
    if (!r.ok)
      throw new ControllerError(`${member.name} ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.text();
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    await Promise.all(
      this.options.members
        .filter((m) => m !== this.self)
        .map(async (m) => {
          try {
            const s = JSON.parse(await this.request(m, 'GET', '/state')) as MemberState;
            this.lastSeen.set(m.name, Date.now());
            this.peerStates.set(m.name, s);
          } catch {
            // not heard this time
          }
        }),
    );
    const dead = this.options.deadAfterMs ?? 1500;
    const alive = this.options.members.filter(
      (m) => m === this.self || now - (this.lastSeen.get(m.name) ?? -Infinity) < dead,
    );
    const quorate = alive.length * 2 > this.options.members.length;
    // A DC in charge stays in charge (a member joining with a lower id does not take
    // over, as in Pacemaker's election, where the longest-running controller wins);
    // among several (partitions merging), or none, the lowest id.
    const leaders = alive.filter((m) =>
      m === this.self ? this.controller !== undefined : this.peerStates.get(m.name)?.leading,
    );
    const dc = quorate
      ? (leaders.length > 0 ? leaders : alive).reduce((a, b) => (b.id < a.id ? b : a)).name
      : '';
    if (dc !== this.dc || quorate !== this.quorate)
      this.log(
        `members [${alive.map((m) => m.name).join(' ')}], ${quorate ? `DC ${dc}` : 'no quorum'}`,
      );
    this.dc = dc;
    this.quorate = quorate;
    const everyone = alive.length === this.options.members.length;
    const patient = Date.now() - this.startedAt < (this.options.dcDeadtimeMs ?? 3000);
    const shouldLead = dc === this.self.name && (everyone || !patient);
    // A member the DC has no executor for (it joined late): the running controller adds it.
    if (this.controller && shouldLead) {
      for (const m of alive)
        if (!this.led.has(m.name) && !this.joining.has(m.name)) {
          this.joining.add(m.name);
          void this.join(m, this.controller).finally(() => this.joining.delete(m.name));
        }
    } else if (shouldLead && !this.controller)
      this.transition = this.transition
        .then(() => this.lead(alive))
        .catch((err: unknown) => {
          this.log(`could not become DC: ${(err as Error).message}`);
        });
    else if (dc !== this.self.name && this.controller)
      this.transition = this.transition.then(() => this.stepDown());
  }

  /** Add a member that joined after this node became DC to the running controller. */
  private async join(m: ClusterMember, controller: Controller): Promise<void> {
    let client: RemoteClient;
    try {
      client = await RemoteClient.connect({
        address: m.executor,
        authKey: this.options.authKey,
        clientName: `dc ${this.self.name}`,
        connectTimeoutMs: 2000,
      });
    } catch (err) {
      this.log(`executor of ${m.name} unreachable: ${(err as Error).message}`);
      return;
    }
    if (this.controller !== controller || this.led.has(m.name)) {
      await client.close();
      return;
    }
    this.clients.push(client);
    this.led.add(m.name);
    this.log(`${m.name} joined`);
    await controller.addNode(m.name, new RemoteNodeExecutor(client));
  }

  /** Become the DC: take over from our CIB copy with the members we hear. */
  private async lead(alive: readonly ClusterMember[]): Promise<void> {
    if (this.controller || this.closed || this.dc !== this.self.name) return;
    // The freshest CIB among the members we hear (configuration changes made through a DC that died).
    for (const [name, s] of this.peerStates)
      if (
        alive.some((m) => m.name === name) &&
        compareVersions(s.cibVersion, versionOf(this.cibXml)) > 0
      ) {
        const m = alive.find((x) => x.name === name)!;
        this.cibXml = await this.request(m, 'GET', '/cib').catch(() => this.cibXml);
      }
    const executors = new Map<string, RemoteNodeExecutor>();
    for (const m of alive) {
      try {
        const client = await RemoteClient.connect({
          address: m.executor,
          authKey: this.options.authKey,
          clientName: `dc ${this.self.name}`,
          connectTimeoutMs: 2000,
        });
        this.clients.push(client);
        executors.set(m.name, new RemoteNodeExecutor(client));
      } catch (err) {
        this.log(`executor of ${m.name} unreachable: ${(err as Error).message}`);
      }
    }
    let store: CibStore;
    if (this.options.cibFile) {
      // The file holds our copy (the freshest found above written first); the store journals on it.
      await this.keepReplica(this.cibXml);
      store = await CibStore.open(this.options.cibFile, { initial: this.cibXml });
      if (compareVersions(store.version, versionOf(this.cibXml)) < 0) {
        await store.close();
        throw new ControllerError(
          `${this.options.cibFile} holds ${formatVersion(store.version)}, older than our copy ${formatVersion(versionOf(this.cibXml))}`,
        );
      }
      this.fileXml = undefined;
    } else store = await CibStore.open(undefined, { initial: this.cibXml });
    await store.modify(
      (doc) => {
        doc.root.attributes.set('dc-uuid', String(this.self.id));
        doc.root.attributes.set('have-quorum', '1');
        for (const m of this.options.members)
          if (executors.has(m.name)) recordNodeJoined(doc, m.name);
          else recordNodeLost(doc, m.name);
      },
      { scope: 'status', reason: `controller: ${this.self.name} became DC` },
    );
    // Connections the members we hear still host (for the DC that went away): adopted as they are.
    const adopted = (
      await Promise.all(
        alive
          .filter((m) => m !== this.self && executors.has(m.name))
          .map(async (m) =>
            (
              await RoutedClient.adoptAll(
                this.link(m),
                this.self.name,
                this.options.deadAfterMs,
                AbortSignal.timeout(2000),
              ).catch((err: unknown) => {
                this.log(
                  `could not list the connections ${m.name} hosts: ${(err as Error).message}`,
                );
                return [];
              })
            ).map((a) => ({
              node: a.node,
              host: m.name,
              client: a.client,
              attach: () => a.client.attach(),
            })),
          ),
      )
    ).flat();
    this.store = store;
    this.led = new Set(executors.keys());
    this.log(
      `became DC (executors: ${[...executors.keys()].join(' ')}${adopted.length > 0 ? `; adopted connections: ${adopted.map((a) => `${a.node} on ${a.host}`).join(' ')}` : ''})`,
    );
    this.controller = Controller.start({
      store,
      scheduler: this.options.scheduler,
      executors,
      authKey: this.options.authKey,
      fenceAgentDir: this.options.fenceAgentDir,
      onTransition: this.options.onTransition,
      connections: this.connectionOpener(),
      adopted,
    });
    this.feed = new AbortController();
    void this.replicate(store, this.feed.signal);
  }

  /** Push every CIB change to the other members (coalesced, best effort). */
  private async replicate(store: CibStore, signal: AbortSignal): Promise<void> {
    const push = (): void => {
      this.pushTimer = undefined;
      const xml = store.xml;
      for (const m of this.options.members)
        if (m !== this.self) void this.request(m, 'PUT', '/cib', xml).catch(() => undefined);
    };
    push();
    try {
      for await (const _ of store.changes(signal)) this.pushTimer ??= setTimeout(push, 50);
    } catch {
      // closed
    }
  }

  private async stepDown(): Promise<void> {
    if (!this.controller) return;
    this.log('no longer DC');
    this.feed?.abort();
    if (this.pushTimer) clearTimeout(this.pushTimer);
    await this.controller.close();
    this.controller = undefined;
    this.cibXml = this.store!.xml;
    await this.store!.close(); // the file (if any) now holds it whole
    if (this.options.cibFile) this.fileXml = this.cibXml;
    this.store = undefined;
    for (const c of this.clients.splice(0)) await c.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.transition.catch(() => undefined);
    await this.stepDown();
    await this.replicaWrites;
    await this.hosted.close();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await this.daemon.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new ControllerError(`'${address}' is not host:port`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), port];
}
