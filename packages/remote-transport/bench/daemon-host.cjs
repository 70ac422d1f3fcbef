// Benchmark helper: one process hosting N remote daemons on loopback (each
// its own port, TLS identity, agent runner). Prints one JSON line with the
// addresses, then serves until SIGTERM.
// Usage: node daemon-host.cjs <count> <authkey-file> <ocf-root>
'use strict';
const { readFileSync } = require('node:fs');
const { RemoteDaemon } = require('@remora/remote-transport');

async function main() {
  const [count, keyFile, ocfRoot] = process.argv.slice(2);
  const authKey = readFileSync(keyFile);
  const daemons = [];
  for (let i = 0; i < Number(count); i++) {
    daemons.push(
      await RemoteDaemon.start({
        listen: '127.0.0.1:0',
        authKey,
        nodeName: `bench-${process.pid}-${i}`,
        runner: { ocfRoot },
        log: () => {},
      }),
    );
  }
  process.stdout.write(`${JSON.stringify({ addresses: daemons.map((d) => d.address) })}\n`);
  const stop = async () => {
    await Promise.all(daemons.map((d) => d.close()));
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`daemon-host: ${err.stack || err}\n`);
  process.exit(1);
});
