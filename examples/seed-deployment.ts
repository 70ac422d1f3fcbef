// The seed deployment: N cluster nodes (executors hosted in this process),
// G guests and S services (ocf:heartbeat:Dummy) placed on the guests with
// constraints, driven by the remora controller. Guests are `remora remoted`
// processes launched by the ocf:remora:guest-daemon agent (libvirt-LXC and
// network namespaces are not used yet). The scheduler is Pacemaker's own
// (crm_simulate) until @remora/scheduler lands.
// Run: npx ts-node examples/seed-deployment.ts [--nodes 3] [--guests 6] [--services 6]
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CibStore, setClusterProperty } from '@remora/cib';
import { Controller, CrmSimulateScheduler, RemoteNodeExecutor } from '@remora/controller';
import type { NodeExecutor } from '@remora/controller';
import { RemoteClient, RemoteDaemon } from '@remora/remote-transport';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    guests: { type: 'string', default: '6' },
    services: { type: 'string', default: '6' },
  },
});
const N = Number(values.nodes);
const G = Number(values.guests);
const S = Number(values.services);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function where(dir: string, svc: string): string[] {
  const found: string[] = [];
  for (let g = 1; g <= G; g++)
    if (existsSync(join(dir, `guest${g}`, `Dummy-${svc}.state`))) found.push(`guest${g}`);
  return found;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-seed-'));
  const cleanup: (() => Promise<void>)[] = [async () => rm(dir, { recursive: true, force: true })];
  try {
    const ocf = join(dir, 'ocf');
    await mkdir(join(ocf, 'resource.d'), { recursive: true });
    await symlink('/usr/lib/ocf/lib', join(ocf, 'lib'));
    await symlink('/usr/lib/ocf/resource.d/heartbeat', join(ocf, 'resource.d', 'heartbeat'));
    await symlink(
      resolve(__dirname, '../packages/controller/agents/remora'),
      join(ocf, 'resource.d', 'remora'),
    );
    const key = randomBytes(64);
    const keyFile = join(dir, 'authkey');
    await writeFile(keyFile, key, { mode: 0o400 });
    const remora = resolve(__dirname, '../node_modules/.bin/remora');
    console.log(`seed deployment: ${N} cluster nodes, ${G} guests, ${S} services`);
    console.log(
      'guests: remora remoted processes launched by ocf:remora:guest-daemon (libvirt-LXC / network namespaces: not used)',
    );
    console.log(
      'scheduler: Pacemaker crm_simulate (the reference) — @remora/scheduler not plugged in yet',
    );

    const executors = new Map<string, NodeExecutor>();
    const nodes: string[] = [];
    const states: string[] = [];
    for (let i = 1; i <= N; i++) {
      const state = join(dir, `node${i}`);
      await mkdir(state);
      const daemon = await RemoteDaemon.start({
        listen: '127.0.0.1:0',
        authKey: key,
        nodeName: `node${i}`,
        localSocket: join(dir, `node${i}.sock`),
        runner: { ocfRoot: ocf, env: { ...process.env, HA_RSCTMP: state } },
      });
      cleanup.push(() => daemon.close());
      const client = await RemoteClient.connect({ address: daemon.address, authKey: key });
      cleanup.push(() => client.close());
      executors.set(`node${i}`, new RemoteNodeExecutor(client));
      nodes.push(`<node id="${i}" uname="node${i}"/>`);
      states.push(
        `<node_state id="${i}" uname="node${i}" in_ccm="true" crmd="online" join="member" expected="member"/>`,
      );
    }
    const resources: string[] = [];
    const constraints: string[] = [];
    for (let g = 1; g <= G; g++) {
      const port = await freePort();
      const nv = (n: string, v: string): string =>
        `<nvpair id="vm${g}-${n}" name="${n}" value="${v}"/>`;
      resources.push(
        `<primitive class="ocf" id="vm${g}" provider="remora" type="guest-daemon"><instance_attributes id="vm${g}-ia">${nv('name', `guest${g}`)}${nv('listen', `127.0.0.1:${port}`)}${nv('authkey', keyFile)}${nv('remora', remora)}${nv('rsctmp', join(dir, `guest${g}`))}</instance_attributes><meta_attributes id="vm${g}-meta">${nv('remote-node', `guest${g}`)}${nv('remote-addr', '127.0.0.1')}${nv('remote-port', String(port))}${nv('remote-connect-timeout', '20s')}</meta_attributes><operations><op id="vm${g}-mon" name="monitor" interval="10s"/></operations></primitive>`,
      );
    }
    for (let s = 1; s <= S; s++) {
      resources.push(
        `<primitive class="ocf" id="svc${s}" provider="heartbeat" type="Dummy"><operations><op id="svc${s}-mon" name="monitor" interval="5s"/></operations></primitive>`,
      );
      constraints.push(
        `<rsc_location id="prefer-svc${s}" rsc="svc${s}" node="guest${((s - 1) % G) + 1}" score="100"/>`,
      );
      constraints.push(
        `<rsc_location id="guests-only-svc${s}" rsc="svc${s}"><rule id="guests-only-svc${s}-r" score="-INFINITY"><expression id="guests-only-svc${s}-e" attribute="#kind" operation="ne" value="container"/></rule></rsc_location>`,
      );
    }
    const store = await CibStore.open(undefined, {
      initial: `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1"><configuration><crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><nodes>${nodes.join('')}</nodes><resources>${resources.join('')}</resources><constraints>${constraints.join('')}</constraints></configuration><status>${states.join('')}</status></cib>\n`,
    });
    cleanup.push(() => store.close());
    const controller = Controller.start({
      store,
      scheduler: new CrmSimulateScheduler(),
      executors,
      authKey: key,
    });
    cleanup.push(() => controller.close());

    let t = Date.now();
    await controller.idle(AbortSignal.timeout(120_000));
    console.log(`\nconverged in ${Date.now() - t} ms (${controller.transitions} transitions)`);
    for (let s = 1; s <= S; s++)
      console.log(`  svc${s}: running on ${where(dir, `svc${s}`).join(', ') || 'nothing'}`);

    const victim = 'guest1';
    const pid = Number(readFileSync(join(dir, `${victim}.pid`), 'utf8'));
    console.log(`\nkill -9 ${victim} (pid ${pid})`);
    // A new failure record of the guest's connection (an earlier one may exist from bring-up).
    const failure = (): string =>
      new RegExp(`<lrm_rsc_op id="${victim}_last_failure_0"[^>]*>`).exec(store.xml)?.[0] ?? '';
    const before = failure();
    t = Date.now();
    process.kill(pid, 'SIGKILL');
    while (failure() === before) await new Promise((r) => setTimeout(r, 5));
    console.log(`  detected in ${Date.now() - t} ms`);
    await controller.idle(AbortSignal.timeout(120_000));
    const newPid = Number(readFileSync(join(dir, `${victim}.pid`), 'utf8'));
    console.log(`  recovered in ${Date.now() - t} ms (guest restarted as pid ${newPid})`);
    for (let s = 1; s <= S; s++)
      console.log(`  svc${s}: running on ${where(dir, `svc${s}`).join(', ') || 'nothing'}`);

    console.log('\nshutting down: stopping every resource through the cluster');
    t = Date.now();
    await store.modify((doc) => setClusterProperty(doc, 'stop-all-resources', 'true'));
    await controller.idle(AbortSignal.timeout(120_000));
    console.log(`  all stopped in ${Date.now() - t} ms`);
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
