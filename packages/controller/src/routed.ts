import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RemoteClient, eventFeed } from '@remora/remote-transport';
import type {
  ConnectionEvent,
  ConnectionState,
  DrainHandler,
  DrainRequest,
  RelayCall,
  RelayHandler,
  RelayResponse,
  RemoteRequest,
  RemoteResult,
} from '@remora/remote-transport';
import { ControllerError } from './errors';
import type { ExecutorClient } from './executor';

/*
 * Remote/guest connections hosted on another cluster node (distributed
 * mode), as Pacemaker's DC drives a remote node through the cluster node
 * whose executor holds the connection (the "router node"). The DC asks the
 * member named by the transition, over the member's authenticated peer
 * endpoint, to open the remote-transport client to the remote daemon
 * (`POST /connections/open`); the member keeps it (`HostedConnections`) and
 * the DC drives it through a `RoutedClient`: one-shot and recurring
 * operations and cancels are requests to the member, and one event stream
 * (`GET /connections/<id>/events`, newline-delimited JSON) carries the
 * connection's state changes, every result, the CLI commands relayed from
 * the remote node and its drain requests back to the DC, which answers the
 * last two with further requests. The stream ticks every 250 ms: a DC that
 * hears nothing for `deadAfterMs` (the member was killed or stopped) takes
 * the connection as lost. A member whose DC went away keeps what it hosts
 * for a while (`adoptWithinMs`), queueing its events: a new DC lists them
 * (`GET /connections/hosted`), adopts them (`POST /connections/<id>/adopt`)
 * and attaches its own stream, receiving what arrived meanwhile; what no DC
 * adopts in time is closed (the DC connects again).
 */

/** Requests to one member's peer endpoint (authenticated by the caller). */
export interface PeerLink {
  /** The member's name (for messages). */
  readonly member: string;
  /** POST a JSON body; resolves to the response text, rejects on a non-2xx status. */
  post(path: string, body: unknown, signal?: AbortSignal): Promise<string>;
  /** GET a streaming response's body. */
  stream(path: string, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

/** What the DC asks a member to connect to. */
export interface OpenRequest {
  readonly node: string;
  readonly address: string;
  readonly clientName?: string;
  readonly connectTimeoutMs?: number;
  readonly deadAfterMs?: number;
  /** Re-establish a lost connection by itself (RemoteClient's `reconnect`; default true). */
  readonly reconnect?: boolean;
  /** The DC asking (for the member's logs). */
  readonly dc: string;
}

type StreamEvent =
  | { readonly t: 'state'; readonly e: ConnectionEvent }
  | { readonly t: 'result'; readonly r: RemoteResult }
  | { readonly t: 'relay'; readonly call: RelayCall }
  | { readonly t: 'drain'; readonly id: number; readonly request: DrainRequest }
  | { readonly t: 'tick' };

const TICK_MS = 250;

/**
 * The DC's side of a connection hosted on another member: the controller
 * uses it as it uses a `RemoteClient`. It does not reconnect by itself: a
 * lost stream (the member gone) is a lost connection, which the scheduler
 * recovers (on another member when this one is lost).
 */
export class RoutedClient implements ExecutorClient {
  private readonly events = new EventEmitter();
  private stateValue: ConnectionState = 'connected';
  private readonly stop = new AbortController();
  private relayHandler: RelayHandler | undefined;
  private drainHandler: DrainHandler | undefined;
  private lastHeard = Date.now();
  hostUnreachable = false;
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    private readonly link: PeerLink,
    private readonly id: string,
    readonly nodeName: string,
    private readonly deadAfterMs: number,
  ) {
    this.events.setMaxListeners(0);
    this.watchdog = setInterval(() => {
      const silence = Date.now() - this.lastHeard;
      if (silence > this.deadAfterMs)
        this.lost(`connection host ${link.member}: nothing heard for ${silence} ms`);
    }, TICK_MS);
  }

  /** Ask `link`'s member to connect to a remote/guest node's daemon; resolves once it is connected. */
  static async open(
    link: PeerLink,
    request: OpenRequest,
    signal?: AbortSignal,
  ): Promise<RoutedClient> {
    const { id, nodeName } = JSON.parse(await link.post('/connections/open', request, signal)) as {
      id: string;
      nodeName: string;
    };
    const c = new RoutedClient(link, id, nodeName, request.deadAfterMs ?? 1500);
    await c.attach();
    return c;
  }

  /**
   * The connections `link`'s member hosts (for a DC that went away, or for
   * us), to adopt: each is taken over for `dc` and returned unattached —
   * call attach() once its results and states are listened to.
   */
  static async adoptAll(
    link: PeerLink,
    dc: string,
    deadAfterMs = 1500,
    signal?: AbortSignal,
  ): Promise<{ readonly node: string; readonly client: RoutedClient }[]> {
    const listed = JSON.parse(await link.post('/connections/hosted', {}, signal)) as HostedEntry[];
    const adopted: { node: string; client: RoutedClient }[] = [];
    for (const h of listed) {
      try {
        await link.post(`/connections/${h.id}/adopt`, { dc }, signal);
      } catch {
        continue; // closed meanwhile: the scheduler starts it again
      }
      adopted.push({ node: h.node, client: new RoutedClient(link, h.id, h.nodeName, deadAfterMs) });
    }
    return adopted;
  }

  /** Attach the member's event stream (state changes, results, relayed commands, drain requests). */
  async attach(): Promise<void> {
    try {
      const body = await this.link.stream(`/connections/${this.id}/events`, this.stop.signal);
      this.lastHeard = Date.now();
      void this.read(body);
    } catch (err) {
      await this.close();
      throw new ControllerError(
        `connection to ${this.nodeName} on ${this.link.member}: ${(err as Error).message}`,
      );
    }
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The member hosting the connection. */
  get host(): string {
    return this.link.member;
  }

  private async read(body: AsyncIterable<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of body) {
        this.lastHeard = Date.now();
        buffered += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line) this.onEvent(JSON.parse(line) as StreamEvent);
        }
      }
      this.lost(`connection host ${this.link.member} ended the connection`);
    } catch (err) {
      this.lost(`connection host ${this.link.member} unreachable: ${(err as Error).message}`);
    }
  }

  private onEvent(e: StreamEvent): void {
    switch (e.t) {
      case 'state':
        if (this.stateValue === 'closed') return;
        if (e.e.state === 'closed') {
          this.lost(`closed on ${this.link.member}`);
          return;
        }
        this.stateValue = e.e.state;
        this.events.emit('state', e.e);
        return;
      case 'result':
        this.events.emit('result', e.r);
        return;
      case 'relay':
        void this.answerRelay(e.call);
        return;
      case 'drain':
        void this.answerDrain(e.id, e.request);
        return;
      case 'tick':
        return;
    }
  }

  private async answerRelay(call: RelayCall): Promise<void> {
    let response: Omit<RelayResponse, 'id'>;
    try {
      response = this.relayHandler
        ? await this.relayHandler(call)
        : {
            exitCode: 102,
            stdout: '',
            stderr: `${this.nodeName}: the cluster is not answering yet`,
          };
    } catch (err) {
      response = { exitCode: 70, stdout: '', stderr: `internal error: ${String(err)}` };
    }
    await this.link
      .post(`/connections/${this.id}/relay`, { ...response, id: call.id })
      .catch(() => undefined);
  }

  private async answerDrain(id: number, request: DrainRequest): Promise<void> {
    let ok: boolean;
    try {
      ok = (await this.drainHandler?.(request)) ?? false;
    } catch {
      ok = false;
    }
    await this.link.post(`/connections/${this.id}/drain`, { id, ok }).catch(() => undefined);
  }

  private lost(reason: string, unreachable = true): void {
    if (this.stateValue === 'closed') return;
    if (unreachable) this.hostUnreachable = true;
    clearInterval(this.watchdog);
    this.stop.abort();
    const was = this.stateValue;
    this.stateValue = 'down';
    if (was !== 'down') this.events.emit('state', { state: 'down', at: Date.now(), reason });
  }

  private call(path: string, body: unknown, signal?: AbortSignal): Promise<string> {
    if (this.stateValue === 'closed')
      return Promise.reject(new ControllerError(`connection to ${this.nodeName}: closed`));
    if (this.stop.signal.aborted)
      return Promise.reject(
        new ControllerError(`connection to ${this.nodeName} on ${this.link.member}: lost`),
      );
    return this.link.post(
      `/connections/${this.id}/${path}`,
      body,
      signal ? AbortSignal.any([signal, this.stop.signal]) : this.stop.signal,
    );
  }

  async execute(
    request: RemoteRequest,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<RemoteResult> {
    return JSON.parse(await this.call('execute', request, options.signal)) as RemoteResult;
  }

  async recur(
    request: RemoteRequest,
  ): Promise<{ readonly callId: number; readonly operationKey: string }> {
    return JSON.parse(await this.call('recur', request)) as {
      callId: number;
      operationKey: string;
    };
  }

  async cancel(resourceId: string, action: string, interval: number): Promise<boolean> {
    const r = JSON.parse(await this.call('cancel', { resourceId, action, interval })) as {
      cancelled: boolean;
    };
    return r.cancelled;
  }

  async ping(timeoutMs: number, signal?: AbortSignal): Promise<number | undefined> {
    // The member answers with an error status when the daemon did not answer it in
    // time; a member that does not answer at all gives no verdict on the daemon.
    const limit = AbortSignal.timeout(timeoutMs + 1000);
    try {
      const r = JSON.parse(
        await this.call('ping', { timeoutMs }, signal ? AbortSignal.any([signal, limit]) : limit),
      ) as { ms: number };
      return r.ms;
    } catch (err) {
      if (err instanceof ControllerError) throw err;
      return undefined;
    }
  }

  results(signal?: AbortSignal): AsyncIterable<RemoteResult> {
    return eventFeed(this.events, 'result', signal);
  }

  states(signal?: AbortSignal): AsyncIterable<ConnectionEvent> {
    return eventFeed(this.events, 'state', signal);
  }

  openRelay(handler: RelayHandler): void {
    this.relayHandler = handler;
  }

  onDrainRequest(handler: DrainHandler | undefined): void {
    this.drainHandler = handler;
  }

  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const reachable = !this.stop.signal.aborted;
    clearInterval(this.watchdog);
    this.stateValue = 'closed';
    this.events.emit('state', { state: 'closed', at: Date.now() });
    this.events.emit('closed');
    // Tell the member first (then the stream ends): it closes the connection as asked.
    if (reachable)
      await this.link
        .post(`/connections/${this.id}/close`, {}, AbortSignal.timeout(1000))
        .catch(() => undefined);
    this.stop.abort();
  }
}

/** A hosted connection as `/connections/hosted` lists it. */
interface HostedEntry {
  readonly id: string;
  readonly node: string;
  readonly nodeName: string;
}

interface Hosted {
  readonly id: string;
  readonly node: string;
  /** The DC it is hosted for (a new DC adopting it replaces it). */
  dc: string;
  readonly client: RemoteClient;
  /** Events waiting for the DC's stream (results arriving before it attaches). */
  readonly queue: StreamEvent[];
  send?: (e: StreamEvent) => void;
  attached: boolean;
  /** The current stream (a newer attach replaces it). */
  attachment?: object;
  endAttachment?: () => void;
  /** Closes it when no DC adopts it in time. */
  orphaned?: NodeJS.Timeout;
  readonly relays: Map<number, (r: Omit<RelayResponse, 'id'>) => void>;
  readonly drains: Map<number, (ok: boolean) => void>;
  readonly stop: AbortController;
}

/** A member's side: the connections it hosts for the DC, served on its peer endpoint. */
export class HostedConnections {
  private readonly hosted = new Map<string, Hosted>();
  private drainIds = 0;

  constructor(
    private readonly authKey: Buffer,
    private readonly log: (line: string) => void,
    /** How long a connection whose DC went away waits for a new DC to adopt it, ms. */
    private readonly adoptWithinMs = 10_000,
  ) {}

  /** The remote/guest nodes this member hosts connections to. */
  get nodes(): string[] {
    return [...this.hosted.values()].map((h) => h.node).sort();
  }

  /** Serve `/connections/...`; false when the path is not ours. */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    body: () => Promise<string>,
  ): Promise<boolean> {
    const url = req.url ?? '';
    if (!url.startsWith('/connections/')) return false;
    if (req.method === 'POST' && url === '/connections/open') {
      const r = JSON.parse(await body()) as OpenRequest;
      for (const k of ['node', 'address', 'dc'] as const)
        if (typeof r[k] !== 'string' || r[k] === '')
          throw new ControllerError(`connections/open: '${k}' is missing`);
      const abort = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      try {
        const h = await this.open(r, abort.signal);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ id: h.id, nodeName: h.client.nodeName }));
      } catch (err) {
        res.writeHead(502).end((err as Error).message);
      }
      return true;
    }
    if (req.method === 'POST' && url === '/connections/hosted') {
      const list: HostedEntry[] = [...this.hosted.values()].map((h) => ({
        id: h.id,
        node: h.node,
        nodeName: h.client.nodeName,
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
      return true;
    }
    const m = /^\/connections\/([^/]+)\/([a-z]+)$/.exec(url);
    const h = m ? this.hosted.get(m[1]!) : undefined;
    if (!m || !h) {
      res.writeHead(404).end(`no such connection here (${url})`);
      return true;
    }
    const verb = m[2]!;
    if (req.method === 'GET' && verb === 'events') {
      this.attach(h, res);
      return true;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return true;
    }
    const json = (v: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    };
    const input = JSON.parse((await body()) || '{}') as Record<string, unknown>;
    switch (verb) {
      case 'execute': {
        const abort = new AbortController();
        res.once('close', () => {
          if (!res.writableFinished) abort.abort();
        });
        json(await h.client.execute(input as unknown as RemoteRequest, { signal: abort.signal }));
        return true;
      }
      case 'recur':
        json(await h.client.recur(input as unknown as RemoteRequest));
        return true;
      case 'adopt':
        if (typeof input.dc !== 'string' || input.dc === '')
          throw new ControllerError(`connections/${h.id}/adopt: 'dc' is missing`);
        this.log(`DC ${input.dc} adopted the connection to ${h.node} (hosted for DC ${h.dc})`);
        h.dc = input.dc;
        clearTimeout(h.orphaned);
        h.orphaned = undefined;
        res.writeHead(204).end();
        return true;
      case 'ping':
        json({ ms: await h.client.ping(Number(input.timeoutMs)) });
        return true;
      case 'cancel':
        json({
          cancelled: await h.client.cancel(
            String(input.resourceId),
            String(input.action),
            Number(input.interval),
          ),
        });
        return true;
      case 'relay': {
        const { id, ...response } = input as unknown as RelayResponse;
        h.relays.get(id)?.(response);
        h.relays.delete(id);
        res.writeHead(204).end();
        return true;
      }
      case 'drain':
        h.drains.get(Number(input.id))?.(input.ok === true);
        h.drains.delete(Number(input.id));
        res.writeHead(204).end();
        return true;
      case 'close':
        await this.drop(h, 'the DC stopped it');
        res.writeHead(204).end();
        return true;
      default:
        res.writeHead(404).end(`unknown connection request '${verb}'`);
        return true;
    }
  }

  private async open(r: OpenRequest, signal: AbortSignal): Promise<Hosted> {
    // One connection per node: a newer request (the DC retrying, or recovering it here) replaces it.
    for (const old of [...this.hosted.values()])
      if (old.node === r.node) await this.drop(old, 'replaced');
    const client = await RemoteClient.connect(
      {
        address: r.address,
        authKey: this.authKey,
        clientName: r.clientName,
        connectTimeoutMs: r.connectTimeoutMs,
        deadAfterMs: r.deadAfterMs,
        reconnect: r.reconnect,
      },
      signal,
    );
    const h: Hosted = {
      id: randomUUID(),
      node: r.node,
      dc: r.dc,
      client,
      queue: [],
      attached: false,
      relays: new Map(),
      drains: new Map(),
      stop: new AbortController(),
    };
    const emit = (e: StreamEvent): void => {
      if (h.send) h.send(e);
      else h.queue.push(e);
    };
    void (async () => {
      for await (const e of client.states(h.stop.signal)) emit({ t: 'state', e });
    })().catch(() => undefined);
    void (async () => {
      for await (const r2 of client.results(h.stop.signal)) emit({ t: 'result', r: r2 });
    })().catch(() => undefined);
    client.openRelay(
      (call) =>
        new Promise((resolve) => {
          if (!h.send) {
            resolve({
              exitCode: 102,
              stdout: '',
              stderr: `${r.node}: no controller is listening on the connection host`,
            });
            return;
          }
          const t = setTimeout(() => {
            h.relays.delete(call.id);
            resolve({ exitCode: 124, stdout: '', stderr: `${r.node}: the DC did not answer` });
          }, 60_000);
          h.relays.set(call.id, (response) => {
            clearTimeout(t);
            resolve(response);
          });
          h.send({ t: 'relay', call });
        }),
    );
    client.onDrainRequest(
      (request) =>
        new Promise<boolean>((resolve) => {
          if (!h.send) {
            resolve(false);
            return;
          }
          const id = ++this.drainIds;
          h.drains.set(id, resolve);
          h.send({ t: 'drain', id, request });
        }),
    );
    this.hosted.set(h.id, h);
    this.log(`hosting the connection to ${r.node} (${r.address}) for DC ${r.dc}`);
    return h;
  }

  private attach(h: Hosted, res: ServerResponse): void {
    // A newer stream (a DC that adopted it) replaces the one before.
    h.endAttachment?.();
    clearTimeout(h.orphaned);
    h.orphaned = undefined;
    const token = {};
    h.attachment = token;
    h.attached = true;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    const write = (e: StreamEvent): void => void res.write(`${JSON.stringify(e)}\n`);
    for (const e of h.queue.splice(0)) write(e);
    h.send = write;
    write({ t: 'state', e: { state: h.client.state, at: Date.now() } });
    const tick = setInterval(() => write({ t: 'tick' }), TICK_MS);
    const end = (): void => void res.end();
    h.endAttachment = end;
    res.once('close', () => {
      clearInterval(tick);
      if (h.attachment !== token) return;
      h.attachment = undefined;
      h.endAttachment = undefined;
      h.send = undefined;
      h.attached = false;
      // Nobody to report to (the DC went away): kept, its events queued, for a new DC to adopt.
      if (this.hosted.get(h.id) === h)
        h.orphaned = setTimeout(
          () => void this.drop(h, `DC ${h.dc} went away and no DC adopted it`),
          this.adoptWithinMs,
        );
    });
    h.stop.signal.addEventListener('abort', end, { once: true });
  }

  private async drop(h: Hosted, why: string): Promise<void> {
    if (this.hosted.get(h.id) !== h) return;
    this.hosted.delete(h.id);
    this.log(`closed the connection to ${h.node} (${why})`);
    clearTimeout(h.orphaned);
    h.stop.abort();
    for (const resolve of h.relays.values())
      resolve({ exitCode: 102, stdout: '', stderr: `${h.node}: the connection closed` });
    for (const resolve of h.drains.values()) resolve(false);
    await h.client.close();
  }

  async close(): Promise<void> {
    for (const h of [...this.hosted.values()]) await this.drop(h, 'this node stops');
  }
}
