#!/usr/bin/env node
// One cluster node of a distributed remora cluster, its own process:
//   node dist/bin/cluster-node.js CONFIG.json
// CONFIG: { "name", "members": [{name,id,peer,executor}], "authkey": FILE,
//           "cib": FILE (initial CIB), "stateDir": DIR (HA_RSCTMP),
//           "ocfRoot"?: DIR, "fenceAgentDir"?: DIR,
//           "cibFile"?: FILE (this node's CIB on disk, journaled; default memory only),
//           "socket"?: PATH (where `remora` commands on this node reach the cluster) }
// Prints membership, DC changes and transitions on stdout; SIGTERM stops it.
import { readFileSync } from 'node:fs';
import { ClusterNode } from '../distributed';
import type { ClusterMember } from '../distributed';
import { CrmSimulateScheduler } from '../scheduler';

interface Config {
  readonly name: string;
  readonly members: ClusterMember[];
  readonly authkey: string;
  readonly cib: string;
  readonly stateDir: string;
  readonly ocfRoot?: string;
  readonly fenceAgentDir?: string;
  readonly cibFile?: string;
  readonly socket?: string;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cluster-node CONFIG.json');
  let config: Config;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as Config;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  for (const k of ['name', 'members', 'authkey', 'cib', 'stateDir'] as const)
    if (config[k] === undefined) throw new Error(`${file}: '${k}' is missing`);
  const log = (l: string): void => console.log(`${new Date().toISOString().slice(11, 23)} ${l}`);
  const node = await ClusterNode.start({
    name: config.name,
    members: config.members,
    authKey: readFileSync(config.authkey),
    initialCib: readFileSync(config.cib, 'utf8'),
    cibFile: config.cibFile,
    localSocket: config.socket,
    scheduler: new CrmSimulateScheduler(),
    runner: { env: { ...process.env, HA_RSCTMP: config.stateDir }, ocfRoot: config.ocfRoot },
    fenceAgentDir: config.fenceAgentDir,
    log,
    onTransition: (r) =>
      log(
        `${config.name}: transition ${r.status}, ${r.confirmed} actions in ${r.elapsedMs} ms${r.failed
          .slice(0, 3)
          .map((f) => `; failed: ${f.detail}`)
          .join('')}`,
      ),
  });
  log(`${config.name}: serving (peer ${config.members.find((m) => m.name === config.name)?.peer})`);
  const stop = (): void => {
    void node.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`cluster-node: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
