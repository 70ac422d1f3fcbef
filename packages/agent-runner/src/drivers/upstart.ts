import { spawnAgent } from '../process-adapter';
import type { SpawnOutcome } from '../process-adapter';
import { DiscoveryError } from '../errors';
import { ExecStatus, OcfRc } from '../result-codes';
import { synthesizeMetadataXml } from '../synthesized-metadata';
import type { AgentDriver, DriverOutcome, DriverRequest } from './driver';
import { processOutcome, runnerOutcome } from './driver';

export interface UpstartDriverOptions {
  /** The `initctl` command, default `initctl` from PATH. */
  readonly initctl: string;
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly tailBytes: number;
}

/**
 * Upstart jobs through `initctl start|stop|status|reload <job>`. Upstart is
 * historical (deprecated in Pacemaker 2.1, removed in 3.0) and not in Debian
 * 12; the contract followed here is initctl's documented output:
 * `status` prints `<job> <goal>/<state>[, process <pid>]` (running when the
 * state is `running`), errors go to stderr as `initctl: <message>`.
 */
export class UpstartDriver implements AgentDriver {
  constructor(private readonly options: UpstartDriverOptions) {}

  private initctl(
    args: string[],
    request: { timeout: number; signal?: AbortSignal },
  ): Promise<SpawnOutcome> {
    return spawnAgent({
      file: this.options.initctl,
      args,
      env: this.options.baseEnv,
      timeout: request.timeout,
      signal: request.signal,
      tailBytes: this.options.tailBytes,
    });
  }

  async run(request: DriverRequest): Promise<DriverOutcome> {
    const job = request.agent.type;
    switch (request.action) {
      case 'meta-data':
        return {
          ...runnerOutcome(ExecStatus.done, '', OcfRc.SUCCESS),
          stdout: synthesizeMetadataXml({
            name: job,
            shortdesc: `Upstart job ${job}`,
            longdesc: `Upstart job ${job}, managed with initctl`,
            actions: [
              { name: 'start', timeout: '15s' },
              { name: 'stop', timeout: '15s' },
              { name: 'status', timeout: '15s' },
              { name: 'restart', timeout: '15s' },
              { name: 'monitor', timeout: '15s', interval: '15s' },
              { name: 'meta-data', timeout: '5s' },
            ],
          }),
        };
      case 'monitor':
      case 'status':
        return this.status(job, request);
      case 'start':
      case 'stop':
      case 'reload': {
        const out = this.outcome(
          await this.initctl([request.action, job], request),
          request.timeout,
        );
        if (out.execStatus !== ExecStatus.done || out.rc === OcfRc.SUCCESS) return out;
        // Already in the wanted state counts as success.
        if (request.action === 'start' && /already running/i.test(out.stderr)) return ok(out);
        if (request.action === 'stop' && /unknown instance/i.test(out.stderr)) return ok(out);
        if (/unknown job/i.test(out.stderr)) return notInstalled(out, job, request.action);
        return out;
      }
      case 'restart': {
        const stop = await this.run({ ...request, action: 'stop' });
        if (stop.execStatus !== ExecStatus.done || stop.rc !== OcfRc.SUCCESS) return stop;
        return this.run({ ...request, action: 'start' });
      }
      default:
        return runnerOutcome(
          ExecStatus.notSupported,
          `upstart jobs do not support action '${request.action}'`,
          OcfRc.ERR_UNIMPLEMENTED,
        );
    }
  }

  private async status(job: string, request: DriverRequest): Promise<DriverOutcome> {
    const out = this.outcome(await this.initctl(['status', job], request), request.timeout);
    if (out.execStatus !== ExecStatus.done) return out;
    if (out.exitCode !== 0) {
      if (/unknown job/i.test(out.stderr)) return notInstalled(out, job, request.action);
      return { ...out, rc: OcfRc.ERR_GENERIC };
    }
    // "<job> start/running, process 1234" → running; "<job> stop/waiting" → not.
    const running = out.stdout
      .split('\n')
      .some((line) => /^\S+(?:\s+\(\S+\))?\s+\S+\/running\b/.test(line.trim()));
    return { ...out, rc: running ? OcfRc.SUCCESS : OcfRc.NOT_RUNNING };
  }

  private outcome(outcome: SpawnOutcome, timeout: number): DriverOutcome {
    return processOutcome(outcome, this.options.initctl, timeout);
  }

  /** Jobs from `initctl list` (`<job> stop/waiting`, `<job> (inst) start/running, ...`). */
  async listAgents(): Promise<string[]> {
    const timeout = 15_000;
    const out = this.outcome(await this.initctl(['list'], { timeout }), timeout);
    if (out.execStatus !== ExecStatus.done || out.exitCode !== 0) {
      throw new DiscoveryError(
        'upstart',
        out.exitReason || out.stderr.trim() || `initctl list failed (rc ${out.rc})`,
      );
    }
    const jobs = new Set<string>();
    for (const line of out.stdout.split('\n')) {
      const name = line.trim().split(/\s+/)[0];
      if (name) jobs.add(name);
    }
    return [...jobs].sort();
  }
}

function ok(out: DriverOutcome): DriverOutcome {
  return { ...out, rc: OcfRc.SUCCESS };
}

function notInstalled(out: DriverOutcome, job: string, action: string): DriverOutcome {
  // Stopping a job that does not exist leaves it stopped: success, as for OCF.
  if (action === 'stop') return ok(out);
  return {
    ...out,
    rc: OcfRc.ERR_INSTALLED,
    execStatus: ExecStatus.notInstalled,
    exitReason: `upstart job not found: ${job}`,
  };
}
