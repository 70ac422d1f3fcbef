import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawnAgent } from '../process-adapter';
import { ExecStatus, OcfRc, toOcfRc } from '../result-codes';
import { synthesizeMetadataXml } from '../synthesized-metadata';
import type { AgentDriver, DriverOutcome, DriverRequest } from './driver';
import { processOutcome, runnerOutcome } from './driver';
import { listExecutables } from './list-executables';
import { parseLsbInitInfo } from './lsb-header';

export interface LsbDriverOptions {
  /** Directory of init scripts, default `/etc/init.d`. */
  readonly lsbRoot: string;
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly tailBytes: number;
}

/** LSB `status` exit codes (LSB 3.1, 20.2) mapped to OCF. */
export function lsbStatusToOcf(status: number): OcfRc {
  switch (status) {
    case 0:
      return OcfRc.SUCCESS;
    case 1: // dead, pid file exists
    case 2: // dead, lock file exists
    case 3: // not running
      return OcfRc.NOT_RUNNING;
    case 150: // Pacemaker: not installed
      return OcfRc.ERR_INSTALLED;
    case 151: // Pacemaker: insufficient privileges
      return OcfRc.ERR_PERM;
    default: // 4 = unknown, and anything else
      return OcfRc.ERR_GENERIC;
  }
}

/** Exit codes of other LSB actions: 0-7 have the OCF meaning, anything else is an error. */
export function lsbActionToOcf(code: number): OcfRc {
  return code >= 0 && code <= 7 ? toOcfRc(code) : OcfRc.ERR_GENERIC;
}

/** LSB init scripts: `/etc/init.d/<name> <action>`, monitor runs `status`. */
export class LsbDriver implements AgentDriver {
  constructor(private readonly options: LsbDriverOptions) {}

  scriptPath(type: string): string {
    return path.join(this.options.lsbRoot, type);
  }

  async run(request: DriverRequest): Promise<DriverOutcome> {
    const file = this.scriptPath(request.agent.type);
    if (request.action === 'meta-data') return this.metaData(request.agent.type, file);
    const isStatus = request.action === 'monitor' || request.action === 'status';
    const outcome = await spawnAgent({
      file,
      args: [isStatus ? 'status' : request.action],
      env: this.options.baseEnv,
      timeout: request.timeout,
      signal: request.signal,
      tailBytes: this.options.tailBytes,
    });
    return processOutcome(
      outcome,
      file,
      request.timeout,
      isStatus ? lsbStatusToOcf : lsbActionToOcf,
    );
  }

  /** Meta-data synthesized from the script's INIT INFO header. */
  private async metaData(type: string, file: string): Promise<DriverOutcome> {
    let script: string;
    try {
      script = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT'
        ? runnerOutcome(ExecStatus.notInstalled, `agent not found: ${file}`, OcfRc.ERR_INSTALLED)
        : runnerOutcome(ExecStatus.error, `cannot read ${file}: ${(err as Error).message}`);
    }
    const info = parseLsbInitInfo(script);
    const xml = synthesizeMetadataXml({
      name: type,
      shortdesc: info?.shortDescription || type,
      longdesc: info?.description || info?.shortDescription || type,
      actions: [
        { name: 'meta-data', timeout: '5s' },
        { name: 'start', timeout: '15s' },
        { name: 'stop', timeout: '15s' },
        { name: 'status', timeout: '15s' },
        { name: 'restart', timeout: '15s' },
        { name: 'force-reload', timeout: '15s' },
        { name: 'monitor', timeout: '15s', interval: '15s' },
      ],
      special: info ? { tag: 'LSB', fields: info.fields } : undefined,
    });
    return { ...runnerOutcome(ExecStatus.done, '', OcfRc.SUCCESS), stdout: xml };
  }

  listAgents(): Promise<string[]> {
    return listExecutables(this.options.lsbRoot, 'lsb');
  }
}
