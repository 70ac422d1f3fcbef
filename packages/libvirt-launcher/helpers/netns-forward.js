#!/usr/bin/env node
'use strict';
// Runs inside a network namespace (started by PrivateLibvirtd with
// `nsenter --net=...`): listens on Unix sockets (which cross network
// namespaces) and forwards each connection to a TCP address inside the
// namespace. Control: one JSON request per line on stdin,
//   {"id":1,"listen":"/path/x.sock","host":"10.213.0.11","port":3121}
// answered on stdout with {"id":1,"ok":true} or {"id":1,"error":"..."}.
// Exits when stdin closes (its parent is gone).
const net = require('node:net');
const fs = require('node:fs');
const readline = require('node:readline');

const servers = [];
const reply = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

function forward(req) {
  try {
    fs.rmSync(req.listen, { force: true });
  } catch {
    // not there
  }
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: req.host, port: req.port });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream).pipe(client);
  });
  server.once('error', (err) => reply({ id: req.id, error: err.message }));
  server.listen(req.listen, () => {
    servers.push(server);
    reply({ id: req.id, ok: true });
  });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    reply({ id: null, error: `not JSON: ${line}` });
    return;
  }
  forward(req);
});
process.stdin.on('close', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
