import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SchedulerError } from './errors';
import { schedule, transitionGraphXml } from '@remora/scheduler';

/** Computes a transition graph (Pacemaker's XML) from a CIB (XML with status). */
export interface Scheduler {
  readonly name: string;
  schedule(cibXml: string, signal?: AbortSignal): Promise<string>;
}

/**
 * Pacemaker's own scheduler through `crm_simulate -x CIB -G GRAPH` (Debian
 * `pacemaker-cli-utils`): the reference implementation, usable until (and
 * for comparison with) `@remora/scheduler`.
 */
export class CrmSimulateScheduler implements Scheduler {
  readonly name = 'crm_simulate';

  constructor(private readonly binary = 'crm_simulate') {}

  async schedule(cibXml: string, signal?: AbortSignal): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'remora-sched-'));
    try {
      const cib = join(dir, 'cib.xml');
      const graph = join(dir, 'graph.xml');
      await writeFile(cib, cibXml);
      await new Promise<void>((resolve, reject) => {
        execFile(this.binary, ['-x', cib, '-G', graph], { signal }, (err, _out, stderr) => {
          if (err)
            reject(
              new SchedulerError(this.name, stderr.trim().split('\n').pop() ?? err.message, {
                cause: err,
              }),
            );
          else resolve();
        });
      });
      return await readFile(graph, 'utf8');
    } catch (err) {
      if (err instanceof SchedulerError) throw err;
      throw new SchedulerError(this.name, (err as Error).message, { cause: err });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The scheduler thread's program: `@remora/scheduler` on messages `{ id, cib, transitionId }`. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { schedule, transitionGraphXml } = require(workerData.scheduler);
parentPort.on('message', ({ id, cib, transitionId }) => {
  try {
    parentPort.postMessage({ id, xml: transitionGraphXml(schedule(cib), { transitionId }) });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
`;

export interface RemoraSchedulerOptions {
  /**
   * Compute in a worker thread (default true): a large cluster's schedule
   * takes seconds (16 nodes, 64 guests, thousands of history entries), and
   * on the controller's own thread it would stall everything else — reading
   * results, answering the daemons' keepalive pings — for that long.
   * `false` computes in the calling thread.
   */
  readonly thread?: boolean;
}

/**
 * remora's own scheduler (`@remora/scheduler`): the same decisions as
 * Pacemaker's for what it models, without a child process per transition,
 * in a worker thread of this process (see `thread`). Its graph is
 * Pacemaker's `<transition_graph>` format. `close()` ends the thread.
 */
export class RemoraScheduler implements Scheduler {
  readonly name = 'remora';
  private transitionId = 0;
  private worker: Worker | undefined;
  private readonly waiting = new Map<
    number,
    { resolve: (xml: string) => void; reject: (err: Error) => void }
  >();
  private ids = 0;

  constructor(private readonly options: RemoraSchedulerOptions = {}) {}

  async schedule(cibXml: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    const transitionId = this.transitionId++;
    if (this.options.thread === false) {
      try {
        return transitionGraphXml(schedule(cibXml), { transitionId });
      } catch (err) {
        throw new SchedulerError(this.name, (err as Error).message, { cause: err });
      }
    }
    const worker = this.thread();
    const id = ++this.ids;
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiting.delete(id);
        reject(new SchedulerError(this.name, 'aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(id, {
        resolve: (xml) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(xml);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      worker.postMessage({ id, cib: cibXml, transitionId });
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER, {
      eval: true,
      // The package's build (also under test runners that map @remora/* to sources).
      workerData: {
        scheduler: join(dirname(require.resolve('@remora/scheduler/package.json')), 'dist'),
      },
    });
    worker.on('message', (m: { id: number; xml?: string; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (!w) return;
      if (m.error !== undefined) w.reject(new SchedulerError(this.name, m.error));
      else w.resolve(m.xml!);
    });
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const w of this.waiting.values())
        w.reject(new SchedulerError(this.name, `the scheduler thread failed: ${err.message}`));
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    // The thread never keeps the process alive; it is idle between transitions.
    // (After the listeners: adding a 'message' listener refs the thread's port again.)
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** End the scheduler thread (a later schedule() starts another). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
