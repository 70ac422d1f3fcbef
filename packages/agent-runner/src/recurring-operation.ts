import { Broadcast } from './broadcast';
import type { OperationResult } from './operation';
import { operationKey } from './operation';
import type { NormalizedRequest } from './request';
import type { Task } from './task';

/** A recurring operation (e.g. `monitor` every 10 s) running inside the runner. */
export interface RecurringOperation {
  /** The call id of the latest request for it (a merged duplicate takes over its call id). */
  readonly callId: number;
  readonly resourceId: string;
  readonly action: string;
  readonly interval: number;
  readonly operationKey: string;
  /** False once cancelled (by `cancel()`, a stop of its resource, `forget` or `close`). */
  readonly active: boolean;
  /**
   * The reported results: the latest one reported before this call (if any),
   * then the first run's result, every result whose rc or exec status differs
   * from the last reported one, the next result after a merged duplicate
   * request, and finally one with exec status `cancelled`; then the iterator ends.
   */
  results(): AsyncIterableIterator<OperationResult>;
  /** Cancel it (an in-flight run is killed); returns false if it was not active. */
  cancel(): boolean;
}

/** Runner-internal state of a recurring operation. */
export class RecurringOp implements RecurringOperation {
  callId: number;
  request: NormalizedRequest;
  readonly operationKey: string;
  readonly stream = new Broadcast<OperationResult>(true);
  /** Report the next result even when unchanged (first run, merged duplicate). */
  forceReport = true;
  lastReported: Pick<OperationResult, 'rc' | 'execStatus'> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The queued or running task of the current run, if any. */
  task: Task | undefined;
  cancelled = false;

  constructor(
    callId: number,
    request: NormalizedRequest,
    private readonly onCancel: (op: RecurringOp) => void,
  ) {
    this.callId = callId;
    this.request = request;
    this.operationKey = operationKey(request.resourceId, request.action, request.interval);
  }

  get resourceId(): string {
    return this.request.resourceId;
  }
  get action(): string {
    return this.request.action;
  }
  get interval(): number {
    return this.request.interval;
  }
  get active(): boolean {
    return !this.cancelled;
  }

  results(): AsyncIterableIterator<OperationResult> {
    return this.stream.subscribe();
  }

  cancel(): boolean {
    if (this.cancelled) return false;
    this.onCancel(this);
    return true;
  }

  /** Whether a result must be reported: first, forced, or rc/exec status changed. */
  shouldReport(result: OperationResult): boolean {
    return (
      this.forceReport ||
      this.lastReported === undefined ||
      this.lastReported.rc !== result.rc ||
      this.lastReported.execStatus !== result.execStatus
    );
  }
}
