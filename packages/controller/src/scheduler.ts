import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * remora's own scheduler (`@remora/scheduler`), in-process: the same
 * decisions as Pacemaker's for what it models, without a child process per
 * transition. Its graph is Pacemaker's `<transition_graph>` format.
 */
export class RemoraScheduler implements Scheduler {
  readonly name = 'remora';
  private transitionId = 0;

  async schedule(cibXml: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    try {
      return transitionGraphXml(schedule(cibXml), { transitionId: this.transitionId++ });
    } catch (err) {
      throw new SchedulerError(this.name, (err as Error).message, { cause: err });
    }
  }
}
