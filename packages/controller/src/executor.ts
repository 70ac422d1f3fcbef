import { ExecStatus } from '@remora/agent-runner';
import type {
  ConnectionEvent,
  ConnectionState,
  DrainHandler,
  RelayHandler,
  RemoteRequest,
  RemoteResult,
} from '@remora/remote-transport';
import type { GraphAction } from './graph';
import { OpStatus } from './lrm-record';

/** What an executor reports for one operation (the fields a status record needs). */
export interface ExecutedOperation {
  readonly rc: number;
  readonly opStatus: OpStatus;
  readonly callId: number;
  readonly exitReason: string;
  /** Epoch ms. */
  readonly startTime: number;
  readonly runTime: number;
  readonly queueTime: number;
}

let controllerCallIds = 0;

/**
 * The result of an operation the controller carries out itself rather than an
 * agent on a node (remote/guest connections, fence-device registration), with
 * call ids from one counter.
 */
export function controllerResult(
  rc: number,
  started: number,
  exitReason = '',
  opStatus: OpStatus = OpStatus.done,
): ExecutedOperation {
  return {
    rc,
    opStatus,
    callId: ++controllerCallIds,
    exitReason,
    startTime: started,
    runTime: Date.now() - started,
    queueTime: 0,
  };
}

/** Runs a graph's resource operations on one node. */
export interface NodeExecutor {
  execute(action: GraphAction, signal?: AbortSignal): Promise<ExecutedOperation>;
  /** Cancel a recurring operation (a graph `cancel` action); false when none was active. */
  cancel(resourceId: string, operation: string, interval: number): Promise<boolean>;
}

const EXEC_TO_OP_STATUS: Readonly<Record<ExecStatus, OpStatus>> = {
  [ExecStatus.done]: OpStatus.done,
  [ExecStatus.cancelled]: OpStatus.cancelled,
  [ExecStatus.timedOut]: OpStatus.timedOut,
  [ExecStatus.error]: OpStatus.error,
  [ExecStatus.notInstalled]: OpStatus.notInstalled,
  [ExecStatus.notSupported]: OpStatus.notSupported,
};

/** Pacemaker's op-status for an executor's exec status. */
export function opStatusOf(execStatus: ExecStatus): OpStatus {
  return EXEC_TO_OP_STATUS[execStatus];
}

/** The executor request for a graph action: parameters, meta-attributes, interval, timeout. */
export function actionRequest(action: GraphAction): RemoteRequest {
  const rsc = action.resource;
  if (!rsc) throw new TypeError(`action ${action.operationKey} has no resource`);
  const params: Record<string, string> = {};
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(action.attributes)) {
    if (k.startsWith('CRM_meta_')) meta[k.slice('CRM_meta_'.length)] = v;
    else if (k !== 'crm_feature_set') params[k] = v;
  }
  delete meta.timeout;
  delete meta.interval;
  return {
    resourceId: rsc.id,
    agent: rsc.provider ? `${rsc.class}:${rsc.provider}:${rsc.type}` : `${rsc.class}:${rsc.type}`,
    action: action.operation,
    params,
    meta,
    interval: action.interval,
    timeout: action.timeout,
  };
}

/** The status-record fields of a remote-transport result. */
export function executed(r: RemoteResult): ExecutedOperation {
  return {
    rc: r.rc,
    opStatus: opStatusOf(r.execStatus),
    callId: r.callId,
    exitReason: r.exitReason,
    startTime: r.startTime,
    runTime: r.runTime,
    queueTime: r.queueTime,
  };
}

/**
 * What the controller uses of a node's connection: a `RemoteClient` of
 * `@remora/remote-transport`, or (distributed mode) a `RoutedClient`
 * reaching the node through the cluster node hosting its connection.
 */
export interface ExecutorClient {
  readonly state: ConnectionState;
  readonly nodeName: string;
  /**
   * Set when the connection was lost because the cluster node hosting it
   * could not be reached (a `RoutedClient`): that member may be lost itself.
   */
  readonly hostUnreachable?: boolean;
  execute(
    request: RemoteRequest,
    options?: { readonly signal?: AbortSignal },
  ): Promise<RemoteResult>;
  recur(
    request: RemoteRequest,
  ): Promise<{ readonly callId: number; readonly operationKey: string }>;
  cancel(resourceId: string, action: string, interval: number): Promise<boolean>;
  results(signal?: AbortSignal): AsyncIterable<RemoteResult>;
  states(signal?: AbortSignal): AsyncIterable<ConnectionEvent>;
  openRelay(handler: RelayHandler): void;
  onDrainRequest(handler: DrainHandler | undefined): void;
  /**
   * A round trip to the daemon within `timeoutMs` (the connection monitor's
   * poke): its time in ms; rejects when the daemon did not answer in time;
   * undefined when it could not be asked (a routed connection whose host
   * member did not answer: that member's own loss is handled elsewhere).
   */
  ping?(timeoutMs: number, signal?: AbortSignal): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * A node's executor reached through `@remora/remote-transport`: one-shot
 * operations through `execute`; recurring ones through `recur`, reported
 * when their first real result arrives on the client's result stream.
 */
export class RemoteNodeExecutor implements NodeExecutor {
  constructor(readonly client: ExecutorClient) {}

  async execute(action: GraphAction, signal?: AbortSignal): Promise<ExecutedOperation> {
    const request = actionRequest(action);
    if (action.interval === 0) return executed(await this.client.execute(request, { signal }));
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = this.client.results(stop.signal)[Symbol.asyncIterator]();
      // recur() waits for a lost connection to come back: give up when the transition is aborted.
      const aborted = new Promise<never>((_, reject) => {
        const fail = (): void =>
          reject(new Error(`${request.resourceId} ${request.action}: aborted`));
        if (stop.signal.aborted) fail();
        else stop.signal.addEventListener('abort', fail, { once: true });
      });
      aborted.catch(() => undefined);
      const { callId } = await Promise.race([this.client.recur(request), aborted]);
      for (;;) {
        const next = await results.next();
        if (next.done) throw new Error(`result stream of ${this.client.nodeName} ended`);
        const r = next.value;
        if (r.resourceId === request.resourceId && r.callId === callId) return executed(r);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  cancel(resourceId: string, operation: string, interval: number): Promise<boolean> {
    return this.client.cancel(resourceId, operation, interval);
  }
}
