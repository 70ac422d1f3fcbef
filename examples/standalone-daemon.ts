// A remote daemon with no cluster: a local client registers and runs
// resources on it (standalone mode), then a "controller" connects, gets
// results pushed and acknowledges them, and the daemon shuts down gracefully
// after asking that controller to drain the node. Everything is real: TLS 1.3
// with the pre-shared key derived from the authkey, ocf:heartbeat:Dummy as a
// child process.
// Run: npx ts-node examples/standalone-daemon.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RemoteClient,
  RemoteDaemon,
  derivePresharedKey,
  generateAuthKey,
  readAuthKey,
  writeAuthKey,
} from '@remora/remote-transport';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-standalone-'));
  try {
    // The shared key (normally /etc/remora/authkey, from `remora authkey generate`).
    const keyFile = join(dir, 'authkey');
    await writeAuthKey(keyFile, generateAuthKey());
    const authKey = await readAuthKey(keyFile);
    console.log(
      `TLS pre-shared key derived from the key: fingerprint ${derivePresharedKey(authKey).fingerprint}`,
    );

    const daemon = await RemoteDaemon.start({
      listen: ['127.0.0.1:0', '[::1]:0'],
      authKey,
      nodeName: 'guest1',
      log: (e) => console.log(`  [daemon] ${e.message}`),
    });
    console.log(`daemon serving on ${daemon.addresses.join(' and ')}`);

    // Standalone: a tool client runs operations and waits for each result.
    const params = { state: join(dir, 'web.state') };
    const web = { resourceId: 'web', agent: 'ocf:heartbeat:Dummy', params };
    {
      await using tool = await RemoteClient.connect({
        address: daemon.address,
        authKey,
        role: 'tool',
      });
      const d = tool.daemon;
      console.log(
        `connected to ${d.nodeName} (host ${d.hostname}, remora remoted ${d.daemonVersion}, protocol ${d.protocol})`,
      );
      for (const action of ['monitor', 'start', 'monitor']) {
        const r = await tool.execute({ ...web, action });
        console.log(
          `  ${r.operationKey}: rc=${r.rc} ${r.execStatus} in ${r.runTime} ms (queued ${r.queueTime} ms)`,
        );
      }
    }

    // A controller: operations are acknowledged at once, results are pushed.
    const controller = await RemoteClient.connect({
      address: daemon.address,
      authKey,
      clientName: 'node1',
    });
    const reading = (async () => {
      for await (const r of controller.results()) {
        console.log(`  pushed #${r.sequence} ${r.operationKey} rc=${r.rc} ${r.execStatus}`);
        if (r.action === 'stop') break;
      }
    })();
    const monitor = await controller.recur({ ...web, action: 'monitor', interval: 200 });
    console.log(`recurring monitor accepted: call ${monitor.callId} (${monitor.operationKey})`);
    await new Promise((r) => setTimeout(r, 500));
    const stop = await controller.submit({ ...web, action: 'stop' });
    console.log(`stop accepted at once: call ${stop.callId}; it cancels the monitor first`);
    await reading;

    // Graceful shutdown: the daemon asks the controller to drain the node.
    controller.onDrainRequest((request) => {
      console.log(
        `controller: drain requested for ${request.nodeName} (${request.reason}); disconnecting`,
      );
      setTimeout(() => void controller.close(), 100);
      return true;
    });
    console.log(`shutdown: ${await daemon.shutdown({ timeoutMs: 5000 })}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
