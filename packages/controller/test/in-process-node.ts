import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteClient, RemoteDaemon } from '@remora/remote-transport';
import { RemoteNodeExecutor } from '../src';

/** Test fixture: a cluster node's executor, a real RemoteDaemon in this process and a client connected to it. */
export interface InProcessNode {
  readonly executor: RemoteNodeExecutor;
  /** The node's HA_RSCTMP (where Dummy agents keep their state files). */
  readonly stateDir: string;
}

/**
 * Start node `name`'s daemon on loopback (state in `dir/name`, local socket
 * `dir/name.sock`) and connect to it; closing both is pushed onto `cleanup`.
 */
export async function inProcessNode(
  dir: string,
  name: string,
  authKey: Buffer,
  cleanup: (() => Promise<void>)[],
  runner: { ocfRoot?: string } = {},
): Promise<InProcessNode> {
  const stateDir = join(dir, name);
  await mkdir(stateDir, { recursive: true });
  const daemon = await RemoteDaemon.start({
    listen: '127.0.0.1:0',
    authKey,
    nodeName: name,
    localSocket: join(dir, `${name}.sock`),
    runner: { ...runner, env: { ...process.env, HA_RSCTMP: stateDir } },
  });
  cleanup.push(() => daemon.close());
  const client = await RemoteClient.connect({ address: daemon.address, authKey });
  cleanup.push(() => client.close());
  return { executor: new RemoteNodeExecutor(client), stateDir };
}
