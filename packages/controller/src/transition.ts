import { setMaxListeners } from 'node:events';
import type { GraphAction, Synapse, TransitionGraph } from './graph';
import { ActionKind } from './graph';

/** What running one action came to. */
export interface ActionOutcome {
  /** Confirmed: the action did what the graph expected (rc == target rc). */
  readonly confirmed: boolean;
  /** Why not, for logs and reports. */
  readonly detail?: string;
}

/**
 * Runs one action of a transition (rsc_op or crm_event; pseudo events never
 * reach it). It may call `release` once the node's part is done (the
 * executor answered) while it still records the result: the action then
 * stops counting against the limits, though it is confirmed only when the
 * runner resolves.
 */
export type ActionRunner = (
  action: GraphAction,
  signal: AbortSignal,
  release: () => void,
) => Promise<ActionOutcome>;

export interface TransitionOptions {
  readonly run: ActionRunner;
  /** Maximum actions in flight per node (default 8; Pacemaker's node-action-limit). */
  readonly perNodeLimit?: number;
  /** Maximum actions in flight cluster-wide (default: the graph's batch-limit, 0 = none). */
  readonly batchLimit?: number;
  /** Abort: start nothing new, let running actions finish (Pacemaker's transition abort). */
  readonly signal?: AbortSignal;
  /**
   * Called for each pseudo event as it fires, before it is confirmed (side
   * effects: a guest's implied fencing, remote nodes entering maintenance).
   */
  readonly onPseudo?: (action: GraphAction) => void;
  /** Called after each action completes (for progress and logs). */
  readonly onAction?: (action: GraphAction, outcome: ActionOutcome) => void;
}

export const TransitionStatus = {
  /** Every action ran and was confirmed. */
  complete: 'complete',
  /** An action failed; nothing new was started after it. */
  failed: 'failed',
  /** Aborted by the caller (a relevant event arrived). */
  aborted: 'aborted',
} as const;
export type TransitionStatus = (typeof TransitionStatus)[keyof typeof TransitionStatus];

export interface TransitionReport {
  readonly transitionId: number;
  readonly status: TransitionStatus;
  /** Actions run (pseudo events included) and confirmed. */
  readonly confirmed: number;
  readonly failed: readonly { readonly action: GraphAction; readonly detail: string }[];
  /** Actions never started (because of a failure or an abort). */
  readonly skipped: number;
  /** Largest number of actions in flight at once. */
  readonly maxInFlight: number;
  readonly elapsedMs: number;
}

function nodeOf(a: GraphAction): string {
  return a.onNode ?? '';
}

/**
 * Execute a transition graph: a synapse starts when every action in its
 * inputs is confirmed; ready synapses run in parallel (higher priority
 * first) bounded by the batch limit and by `perNodeLimit` actions per node.
 * Pseudo events confirm at once. The first failed action (or `signal`)
 * stops new work; actions already running are awaited, never abandoned.
 * Resolves with a report; never rejects for action failures (an exception
 * from `run` counts as a failed action).
 */
export async function runTransition(
  graph: TransitionGraph,
  options: TransitionOptions,
): Promise<TransitionReport> {
  const started = Date.now();
  const perNode = options.perNodeLimit ?? 8;
  const batch = options.batchLimit ?? graph.batchLimit;
  const waitingOn = new Map<Synapse, number>();
  const dependents = new Map<number, Synapse[]>();
  for (const s of graph.synapses) {
    const inputs = new Set(s.inputs);
    waitingOn.set(s, inputs.size);
    for (const i of inputs) {
      const list = dependents.get(i) ?? [];
      list.push(s);
      dependents.set(i, list);
    }
  }
  const ready: GraphAction[] = [];
  const pending = new Set<GraphAction>();
  const enqueue = (s: Synapse): void => {
    for (const a of s.actions) {
      ready.push(a);
      pending.add(a);
    }
  };
  for (const s of graph.synapses) if (waitingOn.get(s) === 0) enqueue(s);

  let confirmed = 0;
  /** Counted against the limits (not yet released). */
  let inFlight = 0;
  /** Not yet resolved (released ones still recording their results). */
  let running = 0;
  let maxInFlight = 0;
  const perNodeInFlight = new Map<string, number>();
  const failed: { action: GraphAction; detail: string }[] = [];
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per running action
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  let wake: (() => void) | undefined;
  const stopped = (): boolean => controller.signal.aborted || failed.length > 0;

  const complete = (a: GraphAction, outcome: ActionOutcome): void => {
    pending.delete(a);
    options.onAction?.(a, outcome);
    if (!outcome.confirmed) {
      failed.push({ action: a, detail: outcome.detail ?? 'failed' });
      return;
    }
    confirmed++;
    for (const s of dependents.get(a.id) ?? []) {
      const left = (waitingOn.get(s) ?? 0) - 1;
      waitingOn.set(s, left);
      if (left === 0) enqueue(s);
    }
  };

  const launch = (a: GraphAction): void => {
    const node = nodeOf(a);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    perNodeInFlight.set(node, (perNodeInFlight.get(node) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inFlight--;
      perNodeInFlight.set(node, (perNodeInFlight.get(node) ?? 1) - 1);
      wake?.();
    };
    running++;
    void (async () => {
      let outcome: ActionOutcome;
      try {
        outcome = await options.run(a, controller.signal, release);
      } catch (err) {
        outcome = { confirmed: false, detail: err instanceof Error ? err.message : String(err) };
      }
      running--;
      release();
      complete(a, outcome);
      wake?.();
    })();
  };

  for (;;) {
    // Pseudo events confirm immediately (they may unlock more work at once).
    let progressed = true;
    while (progressed && !stopped()) {
      progressed = false;
      ready.sort((x, y) => y.priority - x.priority);
      for (let i = 0; i < ready.length; i++) {
        const a = ready[i]!;
        if (a.kind === ActionKind.pseudo) {
          ready.splice(i--, 1);
          options.onPseudo?.(a);
          complete(a, { confirmed: true });
          progressed = true;
          continue;
        }
        if (batch > 0 && inFlight >= batch) continue;
        if ((perNodeInFlight.get(nodeOf(a)) ?? 0) >= perNode) continue;
        ready.splice(i--, 1);
        launch(a);
      }
    }
    if (running === 0) break;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  options.signal?.removeEventListener('abort', onAbort);
  let never = 0;
  for (const s of graph.synapses) if ((waitingOn.get(s) ?? 0) > 0) never += s.actions.length;
  const skipped = pending.size + never;
  const status: TransitionStatus =
    failed.length > 0
      ? TransitionStatus.failed
      : skipped > 0
        ? TransitionStatus.aborted
        : TransitionStatus.complete;
  return {
    transitionId: graph.transitionId,
    status,
    confirmed,
    failed,
    skipped,
    maxInFlight,
    elapsedMs: Date.now() - started,
  };
}
