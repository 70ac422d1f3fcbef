import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DiscoveryError } from '../errors';
import { spawnAgent } from '../process-adapter';
import type { AgentDriver, DriverOutcome, DriverRequest } from './driver';
import { EXIT_REASON_PREFIX, processOutcome } from './driver';
import { listExecutables } from './list-executables';

export interface OcfDriverOptions {
  readonly ocfRoot: string;
  /** Environment every agent inherits (OCF_* variables of the caller removed). */
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly tailBytes: number;
}

/** `OCF_RESKEY_CRM_meta_<name>`: Pacemaker writes meta names with `_` for `-`. */
export function metaEnvName(name: string): string {
  return `OCF_RESKEY_CRM_meta_${name.replace(/-/g, '_')}`;
}

/** OCF resource agents: `$OCF_ROOT/resource.d/<provider>/<type> <action>`. */
export class OcfDriver implements AgentDriver {
  constructor(private readonly options: OcfDriverOptions) {}

  agentPath(provider: string, type: string): string {
    return path.join(this.options.ocfRoot, 'resource.d', provider, type);
  }

  /** The environment of one OCF action (OCF resource agent API 1.1). */
  environment(request: DriverRequest): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...this.options.baseEnv,
      OCF_ROOT: this.options.ocfRoot,
      OCF_RA_VERSION_MAJOR: '1',
      OCF_RA_VERSION_MINOR: '1',
      OCF_RESOURCE_INSTANCE: request.resourceId,
      OCF_RESOURCE_TYPE: request.agent.type,
      OCF_RESOURCE_PROVIDER: request.agent.provider ?? '',
      OCF_EXIT_REASON_PREFIX: EXIT_REASON_PREFIX,
    };
    for (const [name, value] of Object.entries(request.params)) env[`OCF_RESKEY_${name}`] = value;
    for (const [name, value] of Object.entries(request.meta)) env[metaEnvName(name)] = value;
    env.OCF_RESKEY_CRM_meta_timeout = String(request.timeout);
    env.OCF_RESKEY_CRM_meta_interval = String(request.interval);
    return env;
  }

  async run(request: DriverRequest): Promise<DriverOutcome> {
    const file = this.agentPath(request.agent.provider ?? '', request.agent.type);
    const outcome = await spawnAgent({
      file,
      args: [request.action],
      env: this.environment(request),
      timeout: request.timeout,
      signal: request.signal,
      tailBytes: this.options.tailBytes,
    });
    return processOutcome(outcome, file, request.timeout);
  }

  /** OCF providers: the directories under `$OCF_ROOT/resource.d`. */
  async listProviders(): Promise<string[]> {
    const dir = path.join(this.options.ocfRoot, 'resource.d');
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() || e.isSymbolicLink())
        .map((e) => e.name)
        .sort();
    } catch (err) {
      throw new DiscoveryError('ocf', `cannot read ${dir}`, { cause: err });
    }
  }

  async listAgents(provider?: string): Promise<string[]> {
    if (provider === undefined) {
      const all = await Promise.all(
        (await this.listProviders()).map(async (p) =>
          (await this.listAgents(p)).map((t) => `${p}:${t}`),
        ),
      );
      return all.flat();
    }
    return listExecutables(
      path.join(this.options.ocfRoot, 'resource.d', provider),
      `ocf:${provider}`,
    );
  }
}
