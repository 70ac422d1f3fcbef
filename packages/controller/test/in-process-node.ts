import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteClient, RemoteDaemon } from '@remora/remote-transport';
import { CibStore } from '@remora/cib';
import { Controller, CrmSimulateScheduler, RemoteNodeExecutor } from '../src';
import type { ControllerOptions } from '../src';

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

/** A one-node cluster's controller: node1's executor in this process, the CIB in memory, Pacemaker's scheduler. */
export interface OneNodeCluster {
  readonly node1: InProcessNode;
  readonly store: CibStore;
  readonly scheduler: CrmSimulateScheduler;
  readonly controller: Controller;
}

/**
 * Start node1 (inProcessNode), a store on `cib` and a controller driving
 * node1 with `options` added; closing them is pushed onto `cleanup`.
 */
export async function oneNodeCluster(
  dir: string,
  authKey: Buffer,
  cib: string,
  cleanup: (() => Promise<void>)[],
  options: { readonly runner?: { ocfRoot?: string } } & Partial<ControllerOptions> = {},
): Promise<OneNodeCluster> {
  const { runner, ...controllerOptions } = options;
  const node1 = await inProcessNode(dir, 'node1', authKey, cleanup, runner);
  const store = await CibStore.open(undefined, { initial: cib });
  cleanup.push(() => store.close());
  const scheduler = new CrmSimulateScheduler();
  const controller = Controller.start({
    store,
    scheduler,
    executors: new Map([['node1', node1.executor]]),
    authKey,
    ...controllerOptions,
  });
  cleanup.push(() => controller.close());
  return { node1, store, scheduler, controller };
}
