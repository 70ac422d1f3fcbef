import type { OperationResult } from './operation';
import type { NormalizedRequest } from './request';

/** One run of an operation inside the runner (internal). */
export interface Task {
  readonly request: NormalizedRequest;
  readonly abort: AbortController;
  readonly callId: number;
  /** The recurring operation this is a run of (its call id can change by merging). */
  readonly recurring?: { readonly callId: number };
  enqueuedAt: number;
  started: boolean;
  settled: boolean;
  delayTimer?: NodeJS.Timeout;
  /** Settle once; undefined means "dropped without a result to report". */
  finish(result: OperationResult | undefined): void;
}

export function newTask(
  request: NormalizedRequest,
  callId: number,
  onDone: (result: OperationResult | undefined) => void,
  recurring?: { readonly callId: number },
): Task {
  const task: Task = {
    request,
    callId,
    recurring,
    abort: new AbortController(),
    enqueuedAt: Date.now(),
    started: false,
    settled: false,
    finish: (result) => {
      if (task.settled) return;
      task.settled = true;
      onDone(result);
    },
  };
  return task;
}
