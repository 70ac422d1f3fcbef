import { performance } from 'node:perf_hooks';
import type { AgentClass, AgentId } from './agent-id';
import { formatAgentId, toAgentId } from './agent-id';
import { Broadcast } from './broadcast';
import type { DriverOutcome } from './drivers/driver';
import { runnerOutcome } from './drivers/driver';
import { Drivers } from './drivers/registry';
import type { SystemdOptions } from './drivers/systemd';
import { InvalidRequestError, MetadataError, RunnerClosedError } from './errors';
import type { AgentMetadata } from './metadata';
import { parseMetadata } from './metadata';
import type { OperationRequest, OperationResult } from './operation';
import { operationKey } from './operation';
import type { RecurringOperation } from './recurring-operation';
import { RecurringOp } from './recurring-operation';
import type { NormalizedRequest } from './request';
import { normalizeRequest } from './request';
import { ExecStatus, OcfRc, ocfRcName } from './result-codes';
import { Slots } from './slots';
import type { Task } from './task';
import { newTask } from './task';

/** How a runner finds agents and how much it runs at once. */
export interface AgentRunnerOptions {
  /** OCF root, default `/usr/lib/ocf` (agents in `<ocfRoot>/resource.d/<provider>/<type>`). */
  readonly ocfRoot?: string;
  /** Directory of LSB init scripts, default `/etc/init.d`. */
  readonly lsbRoot?: string;
  /** The `initctl` command for upstart jobs, default `initctl` (from PATH). */
  readonly initctl?: string;
  /** Where systemd is (default: this host's system bus). */
  readonly systemd?: SystemdOptions;
  /** Actions running at once across all resources (each resource runs one at a time). Default 32. */
  readonly maxConcurrent?: number;
  /** Bytes of stdout and of stderr kept per operation (the tail). Default 64 KiB. */
  readonly outputTailBytes?: number;
  /** Timeout of requests that give none, ms. Default 20 000 (Pacemaker's default). */
  readonly defaultTimeout?: number;
  /** Environment agents inherit (default `process.env`); `OCF_*` variables in it are dropped. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Cancels the operation: removed from the queue, or its process group killed. */
  readonly signal?: AbortSignal;
}

/** A one-shot operation accepted by the runner. */
export interface PendingOperation {
  readonly callId: number;
  readonly operationKey: string;
  /** Settles with the result; never rejects (failures are results). */
  readonly result: Promise<OperationResult>;
}

/** What the runner remembers about a resource. */
export interface ResourceHistory {
  readonly resourceId: string;
  /** The agent of the latest operation. */
  readonly agent: string;
  /** The last result per operation key, oldest call first. */
  readonly operations: readonly OperationResult[];
  /** Active recurring operations. */
  readonly recurring: readonly RecurringOperation[];
}

interface ResourceState {
  readonly id: string;
  agent: string;
  readonly queue: Task[];
  busy: boolean;
  /** The task running now. */
  current: Task | undefined;
  readonly recurring: Map<string, RecurringOp>;
  readonly history: Map<string, OperationResult>;
}

const CANCELLED = 'cancelled';

/**
 * Runs resource agent actions as Pacemaker's executor does: one action at a
 * time per resource, in parallel across resources (up to a cap), recurring
 * operations re-armed after each run and reported on change, a history of
 * the last result per operation key.
 *
 * ```ts
 * await using runner = new AgentRunner();
 * const r = await runner.execute({ resourceId: 'd1', agent: 'ocf:heartbeat:Dummy', action: 'start' });
 * ```
 */
export class AgentRunner implements AsyncDisposable {
  private readonly drivers: Drivers;
  private readonly slots: Slots;
  private readonly defaultTimeout: number;
  private readonly resourceStates = new Map<string, ResourceState>();
  private readonly firehose = new Broadcast<OperationResult>();
  private readonly running = new Set<Promise<void>>();
  private readonly delayed = new Set<Task>();
  /** Tasks outside any resource queue (meta-data). */
  private readonly direct = new Set<Task>();
  private nextCallId = 1;
  private closed = false;

  constructor(options: AgentRunnerOptions = {}) {
    const maxConcurrent = options.maxConcurrent ?? 32;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new InvalidRequestError(
        'maxConcurrent',
        `expected a whole number >= 1, got ${maxConcurrent}`,
      );
    }
    this.slots = new Slots(maxConcurrent);
    this.defaultTimeout = options.defaultTimeout ?? 20_000;
    const baseEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(options.env ?? process.env)) {
      if (!k.startsWith('OCF_')) baseEnv[k] = v;
    }
    this.drivers = new Drivers({
      ocfRoot: options.ocfRoot ?? '/usr/lib/ocf',
      lsbRoot: options.lsbRoot ?? '/etc/init.d',
      initctl: options.initctl ?? 'initctl',
      systemd: options.systemd ?? {},
      baseEnv,
      tailBytes: options.outputTailBytes ?? 64 * 1024,
    });
  }

  /** Run a one-shot operation and wait for its result (failures are results, see {@link ExecStatus}). */
  execute(request: OperationRequest, options: SubmitOptions = {}): Promise<OperationResult> {
    return this.submit(request, options).result;
  }

  /**
   * Accept a one-shot operation (interval 0) and return its call id at once.
   * A `stop` first cancels the resource's recurring operations. Throws the
   * package's typed errors for a malformed request, before anything runs.
   */
  submit(request: OperationRequest, options: SubmitOptions = {}): PendingOperation {
    const req = this.accept(request);
    if (req.interval !== 0) {
      throw new InvalidRequestError(
        'interval',
        'a one-shot operation has interval 0; use recur() for recurring ones',
      );
    }
    const rs = this.resource(req.resourceId, req.agentSpec);
    if (req.action === 'stop') {
      for (const op of [...rs.recurring.values()]) this.cancelRecurring(op);
    }
    let resolve!: (r: OperationResult) => void;
    const result = new Promise<OperationResult>((r) => (resolve = r));
    const task = newTask(req, this.nextCallId++, (r) => {
      if (!r) return;
      if (req.action !== 'meta-data') this.record(rs, r);
      this.firehose.publish(r);
      resolve(r);
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void => this.abortTask(task);
      signal.addEventListener('abort', onAbort, { once: true });
      void result.finally(() => signal.removeEventListener('abort', onAbort));
      if (signal.aborted) onAbort();
    }
    if (!task.settled) this.schedule(rs, task, req.startDelay);
    return {
      callId: task.callId,
      operationKey: operationKey(req.resourceId, req.action, 0),
      result,
    };
  }

  /**
   * Start a recurring operation (interval > 0): first run after `startDelay`,
   * each next run `interval` ms after the previous one finished. A request
   * for a recurring operation that is already active (same resource, action
   * and interval) is merged into it: it takes the new call id and reports its
   * next result even if unchanged; its parameters stay those of the first request.
   */
  recur(request: OperationRequest): RecurringOperation {
    const req = this.accept(request);
    if (req.interval === 0) {
      throw new InvalidRequestError(
        'interval',
        'a recurring operation needs an interval > 0; use submit() for one-shot ones',
      );
    }
    const rs = this.resource(req.resourceId, req.agentSpec);
    const key = operationKey(req.resourceId, req.action, req.interval);
    const existing = rs.recurring.get(key);
    if (existing && !existing.cancelled) {
      existing.callId = this.nextCallId++;
      existing.forceReport = true;
      return existing;
    }
    const op = new RecurringOp(this.nextCallId++, req, (o) => this.cancelRecurring(o));
    rs.recurring.set(key, op);
    this.armRecurring(rs, op, req.startDelay);
    return op;
  }

  /** Cancel a recurring operation by resource, action and interval; false if none was active. */
  cancel(resourceId: string, action: string, interval: number): boolean {
    const op = this.resourceStates
      .get(resourceId)
      ?.recurring.get(operationKey(resourceId, action, interval));
    if (!op || op.cancelled) return false;
    this.cancelRecurring(op);
    return true;
  }

  /** The history of a resource, or undefined if the runner has run nothing for it. */
  history(resourceId: string): ResourceHistory | undefined {
    const rs = this.resourceStates.get(resourceId);
    if (!rs) return undefined;
    return {
      resourceId,
      agent: rs.agent,
      operations: [...rs.history.values()].sort((a, b) => a.callId - b.callId),
      recurring: [...rs.recurring.values()],
    };
  }

  /** Ids of the resources the runner has a history or recurring operations for. */
  resources(): string[] {
    return [...this.resourceStates.keys()];
  }

  /** Cancel a resource's recurring operations and drop its history (Pacemaker's unregister). */
  forget(resourceId: string): void {
    const rs = this.resourceStates.get(resourceId);
    if (!rs) return;
    for (const op of [...rs.recurring.values()]) this.cancelRecurring(op);
    rs.history.clear();
    if (!rs.busy && rs.queue.length === 0) this.resourceStates.delete(resourceId);
  }

  /**
   * Every reported result, from now on: one-shot results, and recurring
   * results when reported (see {@link RecurringOperation.results}). Ends on close().
   */
  results(): AsyncIterableIterator<OperationResult> {
    return this.firehose.subscribe();
  }

  /** Resolve `service:x` to `lsb:x` or `systemd:x` as an operation would. */
  async resolveAgent(agent: string | AgentId): Promise<AgentId> {
    return this.drivers.resolve(toAgentId(agent));
  }

  /** Agent classes usable on this host. */
  listClasses(): Promise<AgentClass[]> {
    return this.drivers.listClasses();
  }

  /** OCF providers under the OCF root. */
  listProviders(): Promise<string[]> {
    return this.drivers.ocf.listProviders();
  }

  /** Agents of a class (for OCF, of one provider, or `provider:type` for all). */
  listAgents(agentClass: AgentClass, provider?: string): Promise<string[]> {
    return this.drivers.listAgents(agentClass, provider);
  }

  /**
   * An agent's meta-data, typed (LSB, systemd and upstart meta-data are
   * synthesized). Throws {@link MetadataError} when the agent is missing,
   * fails or prints malformed XML.
   */
  async metaData(
    agent: string | AgentId,
    options: SubmitOptions & { readonly timeout?: number } = {},
  ): Promise<AgentMetadata> {
    if (this.closed) throw new RunnerClosedError();
    const id = toAgentId(agent);
    const spec = formatAgentId(id);
    const req = normalizeRequest(
      { resourceId: id.type, agent: id, action: 'meta-data', timeout: options.timeout ?? 30_000 },
      this.defaultTimeout,
    );
    let resolve!: (r: OperationResult) => void;
    const done = new Promise<OperationResult>((r) => (resolve = r));
    const task = newTask(req, this.nextCallId++, (r) => r && resolve(r));
    const onAbort = (): void => this.abortTask(task);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    this.direct.add(task);
    const run = (async (): Promise<void> => {
      await this.slots.acquire();
      try {
        if (!task.settled) await this.runTask(task);
      } finally {
        this.slots.release();
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    const result = await done;
    this.direct.delete(task);
    options.signal?.removeEventListener('abort', onAbort);
    if (result.execStatus !== ExecStatus.done || result.rc !== OcfRc.SUCCESS) {
      const why =
        result.exitReason || result.stderr.trim().split('\n').pop() || ocfRcName(result.rc);
      throw new MetadataError(spec, `${why} (rc ${result.rc}, ${result.execStatus})`);
    }
    return parseMetadata(result.stdout, spec);
  }

  /** Actions running now (for diagnostics and tests). */
  get runningCount(): number {
    return this.slots.running;
  }

  /**
   * Stop accepting operations, cancel recurring and queued ones, kill the
   * process groups of running ones (their results say `cancelled`), and end
   * every result stream. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const task of [...this.delayed]) this.abortTask(task);
      for (const rs of this.resourceStates.values()) {
        for (const op of [...rs.recurring.values()]) this.cancelRecurring(op);
        for (const task of [...rs.queue]) this.abortTask(task);
        if (rs.current) this.abortTask(rs.current);
      }
      for (const task of this.direct) this.abortTask(task);
    }
    while (this.running.size > 0) await Promise.all([...this.running]);
    this.firehose.close();
    this.drivers.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals ---------------------------------------------------------

  private accept(request: OperationRequest): NormalizedRequest {
    if (this.closed) throw new RunnerClosedError();
    return normalizeRequest(request, this.defaultTimeout);
  }

  private resource(id: string, agent: string): ResourceState {
    let rs = this.resourceStates.get(id);
    if (!rs) {
      rs = {
        id,
        agent,
        queue: [],
        busy: false,
        current: undefined,
        recurring: new Map(),
        history: new Map(),
      };
      this.resourceStates.set(id, rs);
    }
    rs.agent = agent;
    return rs;
  }

  /** Put a task on its resource's queue, after a start delay if any. */
  private schedule(rs: ResourceState, task: Task, delay: number): void {
    if (delay > 0) {
      this.delayed.add(task);
      task.delayTimer = setTimeout(() => {
        this.delayed.delete(task);
        task.delayTimer = undefined;
        this.enqueue(rs, task);
      }, delay);
    } else {
      this.enqueue(rs, task);
    }
  }

  private enqueue(rs: ResourceState, task: Task): void {
    task.enqueuedAt = Date.now();
    rs.queue.push(task);
    if (!rs.busy) {
      const loop = this.drain(rs);
      this.running.add(loop);
      void loop.finally(() => this.running.delete(loop));
    }
  }

  /** Run a resource's queue, one task at a time. */
  private async drain(rs: ResourceState): Promise<void> {
    rs.busy = true;
    try {
      for (let task = rs.queue.shift(); task; task = rs.queue.shift()) {
        if (task.settled) continue;
        await this.slots.acquire();
        try {
          rs.current = task;
          if (!task.settled) await this.runTask(task);
        } finally {
          rs.current = undefined;
          this.slots.release();
        }
      }
    } finally {
      rs.busy = false;
    }
  }

  private async runTask(task: Task): Promise<void> {
    task.started = true;
    const req = task.request;
    const startTime = Date.now();
    const t0 = performance.now();
    let agent = req.agent;
    let outcome: DriverOutcome;
    try {
      agent = await this.drivers.resolve(req.agent);
      outcome = await this.drivers.driverFor(agent.class as Exclude<AgentClass, 'service'>).run({
        agent,
        resourceId: req.resourceId,
        action: req.action,
        params: req.params,
        meta: req.meta,
        interval: req.interval,
        timeout: req.timeout,
        signal: task.abort.signal,
      });
    } catch (err) {
      // Drivers report failures as outcomes; this is a bug, kept as a result.
      outcome = runnerOutcome(ExecStatus.error, `internal error: ${(err as Error).message}`);
    }
    const result: OperationResult = {
      // A merged duplicate request gives a recurring operation a new call id.
      callId: task.recurring?.callId ?? task.callId,
      resourceId: req.resourceId,
      agent: formatAgentId(agent),
      action: req.action,
      interval: req.interval,
      operationKey: operationKey(req.resourceId, req.action, req.interval),
      rc: outcome.rc,
      execStatus: outcome.execStatus,
      exitReason: outcome.exitReason,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      startTime,
      runTime: Math.round(performance.now() - t0),
      queueTime: startTime - task.enqueuedAt,
    };
    task.finish(result);
  }

  /** Cancel a task: drop it if it has not started, else kill its process group. */
  private abortTask(task: Task): void {
    if (task.settled) return;
    if (task.delayTimer) {
      clearTimeout(task.delayTimer);
      task.delayTimer = undefined;
      this.delayed.delete(task);
    }
    task.abort.abort(CANCELLED);
    if (!task.started) {
      task.finish(
        cancelledResult(task.request, task.callId, task.enqueuedAt, 'cancelled before it ran'),
      );
    }
  }

  private record(rs: ResourceState, result: OperationResult): void {
    rs.history.delete(result.operationKey);
    rs.history.set(result.operationKey, result);
  }

  /** Queue the next run of a recurring operation after `delay` ms. */
  private armRecurring(rs: ResourceState, op: RecurringOp, delay: number): void {
    const task = newTask(
      op.request,
      op.callId,
      (r) => {
        op.task = undefined;
        if (!r || op.cancelled) return;
        this.record(rs, r);
        if (op.shouldReport(r)) {
          op.forceReport = false;
          op.lastReported = { rc: r.rc, execStatus: r.execStatus };
          op.stream.publish(r);
          this.firehose.publish(r);
        }
        if (!this.closed) this.armRecurring(rs, op, op.interval);
      },
      op,
    );
    op.task = task;
    op.timer = setTimeout(() => {
      op.timer = undefined;
      this.enqueue(rs, task);
    }, delay);
  }

  /** Cancel a recurring operation: report a final `cancelled` result and end its stream. */
  private cancelRecurring(op: RecurringOp): void {
    if (op.cancelled) return;
    op.cancelled = true;
    if (op.timer) clearTimeout(op.timer);
    op.timer = undefined;
    const rs = this.resourceStates.get(op.resourceId);
    const task = op.task as Task | undefined;
    if (task) {
      task.abort.abort(CANCELLED);
      if (!task.started) task.finish(undefined);
    }
    const final = cancelledResult(
      op.request,
      op.callId,
      task?.enqueuedAt ?? Date.now(),
      'recurring operation cancelled',
    );
    if (rs) {
      rs.recurring.delete(op.operationKey);
      rs.history.delete(op.operationKey);
    }
    op.stream.publish(final);
    op.stream.close();
    this.firehose.publish(final);
  }
}

/** The result reported for an operation cancelled before or instead of a run. */
function cancelledResult(
  req: NormalizedRequest,
  callId: number,
  enqueuedAt: number,
  reason: string,
): OperationResult {
  const now = Date.now();
  return {
    callId,
    resourceId: req.resourceId,
    agent: req.agentSpec,
    action: req.action,
    interval: req.interval,
    operationKey: operationKey(req.resourceId, req.action, req.interval),
    ...runnerOutcome(ExecStatus.cancelled, reason),
    startTime: now,
    runTime: 0,
    queueTime: Math.max(0, now - enqueuedAt),
  };
}
