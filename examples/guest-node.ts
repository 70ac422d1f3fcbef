// A guest node: a resource (here ocf:remora:guest-daemon, whose "container" is a
// `remora remoted` process; with libvirt it would be a VirtualDomain) carrying the
// `remote-node` meta attribute becomes a node the cluster places services on. One
// cluster node, one guest, one service: the guest is started, then its connection,
// then the service inside; kill -9 of the guest is detected and the guest recovered
// (container restarted, service restarted inside).
// Run: npx ts-node examples/guest-node.ts
import { LocalCluster, loopbackNetwork } from '@remora/controller';

async function main(): Promise<void> {
  const cluster = await LocalCluster.start({
    nodes: 1,
    guests: 1,
    services: 1,
    network: loopbackNetwork,
    onTransition: (r, g) =>
      console.log(
        `  transition: ${[...g.actions.values()]
          .filter((a) => a.kind === 'rsc_op' && a.interval === 0)
          .map((a) => `${a.operationKey}@${a.onNode}`)
          .join(' ')} -> ${r.status}`,
      ),
  });
  try {
    const vm = /<primitive[^>]*id="vm1"[\s\S]*?<\/primitive>/.exec(cluster.store.xml)?.[0] ?? '';
    console.log('the guest, as the CIB declares it (note the remote-node meta attribute):');
    console.log(`  ${vm.replace(/></g, '>\n  <')}\n`);
    let t = Date.now();
    await cluster.converged();
    console.log(`svc1 runs on ${cluster.where('svc1').join()} (${Date.now() - t} ms)\n`);

    const pid = cluster.guestPid('guest1')!;
    console.log(`kill -9 guest1 (pid ${pid})`);
    t = Date.now();
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await cluster.converged();
    console.log(
      `recovered in ${Date.now() - t} ms: guest1 is pid ${cluster.guestPid('guest1')}, svc1 runs on ${cluster.where('svc1').join()}`,
    );
  } finally {
    console.log(`stopped; leftover processes: ${await cluster.stop()}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
