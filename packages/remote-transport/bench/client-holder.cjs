// Benchmark helper: one client process holding connections to many daemons.
// Reads {addresses} JSON on stdin, connects to all, idles `seconds`, and
// prints its memory and CPU use while holding them (heartbeats, keepalives).
// Usage: node --expose-gc client-holder.cjs <authkey-file> <seconds> < addresses.json
'use strict';
const { readFileSync } = require('node:fs');
const { RemoteClient } = require('@remora/remote-transport');

async function main() {
  const [keyFile, seconds] = process.argv.slice(2);
  const authKey = readFileSync(keyFile);
  const { addresses } = JSON.parse(readFileSync(0, 'utf8'));
  const baseline = process.memoryUsage().rss;
  const t0 = Date.now();
  const clients = [];
  // Connect in batches so the daemons' accept queues are not flooded.
  for (let i = 0; i < addresses.length; i += 50) {
    clients.push(
      ...(await Promise.all(
        addresses
          .slice(i, i + 50)
          .map((address) => RemoteClient.connect({ address, authKey, connectTimeoutMs: 60_000 })),
      )),
    );
  }
  const connectMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 2000)); // settle
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = Date.now() - w0;
  global.gc?.();
  const mem = process.memoryUsage();
  const connected = clients.filter((c) => c.state === 'connected').length;
  process.stdout.write(
    `${JSON.stringify({
      connections: clients.length,
      connected,
      connectMs,
      baselineRssMiB: baseline / 2 ** 20,
      rssMiB: mem.rss / 2 ** 20,
      heapUsedMiB: mem.heapUsed / 2 ** 20,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    })}\n`,
  );
  await Promise.all(clients.map((c) => c.close()));
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`client-holder: ${err.stack || err}\n`);
  process.exit(1);
});
