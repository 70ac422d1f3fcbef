// @remora/libvirt-launcher: a libvirt-LXC guest whose init is `remora remoted`,
// started with limits, ready when its daemon answers an authenticated
// handshake, a service run inside it, limits changed live, events watched,
// then stopped (SIGTERM to its init; destroy after a timeout).
// Uses a private libvirtd (own mount and network namespace with a bridge), so
// nothing on the host changes. Needs root and libvirt-daemon-driver-lxc.
// Run: npx ts-node examples/libvirt-launcher.ts
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  launchGuest,
  lxcContainer,
  privateLibvirtdSupport,
  remotedInit,
  startPrivateLibvirtd,
  stopGuest,
} from '@remora/libvirt-launcher';
import { RemoteClient } from '@remora/remote-transport';

async function main(): Promise<void> {
  const support = privateLibvirtdSupport();
  if (!support.ok || !support.lxc) {
    console.log(`cannot run libvirt-LXC here: ${support.reason}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'remora-example-'));
  const authKey = randomBytes(64);
  const authKeyFile = join(dir, 'authkey');
  await writeFile(authKeyFile, authKey, { mode: 0o400 });

  // libvirtd in its own namespaces; the bridge br0 (10.213.0.1/24) is the guests' network.
  const lv = await startPrivateLibvirtd();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void lv.stop().finally(() => process.exit(130)));
  }
  try {
    const connection = lv.connection('lxc'); // lxc:///system?socket=<dir>/sock/libvirt-sock
    await using events = connection.events();
    await events.ready;

    const xml = lxcContainer({
      name: 'guest1',
      memoryMiB: 256,
      ...remotedInit({
        nodeName: 'guest1',
        authKeyFile,
        localSocket: join(dir, 'guest1', 'remoted.sock'),
      }),
      interfaces: [{ bridge: 'br0', ip: '10.213.0.11/24' }], // fixed MAC derived from the name
      limits: { memoryHardLimitMiB: 256, cpuShares: 512, cpuPeriodUs: 100_000, cpuQuotaUs: 50_000 },
    });
    // The guest's address is inside libvirtd's network namespace: reach it through a forwarder.
    const address = await lv.forward('10.213.0.11', 3121);
    const { domain, startedMs, readyMs, nodeName } = await launchGuest({
      connection,
      xml,
      remote: { address, authKey, connectTimeoutMs: 60_000 }, // remote-connect-timeout
    });
    console.log(
      `${domain.name}: started in ${startedMs} ms, remoted (${nodeName}) ready in ${readyMs} ms`,
    );
    console.log('state:', await domain.state(), 'OCF monitor rc:', await domain.monitor());

    // Run a real OCF agent inside the guest through its daemon.
    const client = await RemoteClient.connect({ address, authKey });
    const state = join(dir, 'guest1', 'web.state');
    const params = { state };
    const start = await client.execute({
      resourceId: 'web',
      agent: 'ocf:heartbeat:Dummy',
      action: 'start',
      params,
    });
    const monitor = await client.execute({
      resourceId: 'web',
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
      params,
    });
    console.log(
      `ocf:heartbeat:Dummy inside the guest: start rc ${start.rc}, monitor rc ${monitor.rc}`,
    );
    await client.close();

    await domain.setLimits({ cpuQuotaUs: 25_000 }); // live: the container's cpu cgroup changes now
    console.log('limits now:', await domain.limits());

    const stop = await stopGuest(domain, { timeoutMs: 10_000 });
    console.log(
      `stopped: ${stop.how} in ${stop.elapsedMs} ms; state now ${(await domain.state()).state}`,
    );

    await events.close();
    for await (const e of events) console.log(`event: ${e.domain} ${e.event} ${e.detail}`);
  } finally {
    await lv.stop(); // destroys leftovers, stops libvirtd, removes its cgroups and folder
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
