import type {
  OperationRequest as RunnerRequest,
  OperationResult as RunnerResult,
} from '@remora/agent-runner';
import { ExecStatus, toOcfRc } from '@remora/agent-runner';
import type {
  OperationRequest as WireRequest,
  OperationResult as WireResult,
} from './gen/remora/remote/v1/remote';

/** What a client asks the daemon to run (the agent-runner request plus an idempotency id). */
export type RemoteRequest = RunnerRequest & {
  /** Reused on retries so a request is never run twice; generated when absent. */
  readonly requestId?: string;
};

/** A result as the daemon reports it: the agent-runner result plus its sequence number and request id. */
export interface RemoteResult extends RunnerResult {
  /** Position in the daemon's result log (increasing, per daemon boot). */
  readonly sequence: number;
  readonly requestId: string;
}

export function requestToWire(r: RemoteRequest, requestId: string): WireRequest {
  return {
    resourceId: r.resourceId,
    agent:
      typeof r.agent === 'string'
        ? r.agent
        : r.agent.provider
          ? `${r.agent.class}:${r.agent.provider}:${r.agent.type}`
          : `${r.agent.class}:${r.agent.type}`,
    action: r.action,
    params: { ...(r.params ?? {}) },
    meta: { ...(r.meta ?? {}) },
    intervalMs: r.interval ?? 0,
    startDelayMs: r.startDelay ?? 0,
    timeoutMs: r.timeout ?? 0,
    requestId,
  };
}

export function requestFromWire(w: WireRequest): RunnerRequest {
  return {
    resourceId: w.resourceId,
    agent: w.agent,
    action: w.action,
    params: w.params,
    meta: w.meta,
    interval: w.intervalMs,
    startDelay: w.startDelayMs,
    timeout: w.timeoutMs === 0 ? undefined : w.timeoutMs,
  };
}

export function resultToWire(r: RunnerResult, sequence: number, requestId: string): WireResult {
  return {
    sequence,
    callId: r.callId,
    resourceId: r.resourceId,
    agent: r.agent,
    action: r.action,
    intervalMs: r.interval,
    operationKey: r.operationKey,
    rc: r.rc,
    execStatus: r.execStatus,
    exitReason: r.exitReason,
    exitCode: r.exitCode ?? -1,
    signal: r.signal ?? '',
    stdout: r.stdout,
    stderr: r.stderr,
    startTime: r.startTime,
    runTimeMs: Math.round(r.runTime),
    queueTimeMs: Math.round(r.queueTime),
    requestId,
  };
}

const EXEC_STATUSES = new Set<string>(Object.values(ExecStatus));

export function resultFromWire(w: WireResult): RemoteResult {
  return {
    sequence: w.sequence,
    requestId: w.requestId,
    callId: w.callId,
    resourceId: w.resourceId,
    agent: w.agent,
    action: w.action,
    interval: w.intervalMs,
    operationKey: w.operationKey,
    rc: toOcfRc(w.rc),
    execStatus: (EXEC_STATUSES.has(w.execStatus) ? w.execStatus : ExecStatus.error) as ExecStatus,
    exitReason: w.exitReason,
    exitCode: w.exitCode < 0 ? null : w.exitCode,
    signal: w.signal === '' ? null : w.signal,
    stdout: w.stdout,
    stderr: w.stderr,
    startTime: w.startTime,
    runTime: w.runTimeMs,
    queueTime: w.queueTimeMs,
  };
}
