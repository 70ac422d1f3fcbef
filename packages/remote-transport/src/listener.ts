import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import tls from 'node:tls';
import { ConfigurationError, TransportError } from './errors';
import type { ServerTls } from './tls';

/** Where to listen: a TCP host and port, or a Unix socket path. */
export type ListenAddress =
  { readonly host: string; readonly port: number } | { readonly path: string };

/**
 * Parse a listen address: `host:port`, `[v6]:port`, `:port` or `port` (all
 * addresses, IPv6 and IPv4), `host` (default port), `unix:/path`.
 */
export function parseListenAddress(text: string, defaultPort: number): ListenAddress {
  const bad = (why: string): never => {
    throw new ConfigurationError(`listen address '${text}': ${why}`);
  };
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path.startsWith('/')) bad('a Unix socket path must be absolute');
    return { path };
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
    if (net.isIPv6(host) === false) bad(`'${host}' is not an IPv6 address`);
  } else if (/^\d+$/.test(text)) {
    host = '';
    portText = text;
  } else if (net.isIPv6(text)) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  const port = portText === undefined || portText === '' ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    bad(`port '${portText}' is not a number 0-65535`);
  if (host !== '' && !net.isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host))
    bad(`'${host}' is not an IP address or host name`);
  return { host, port };
}

/** `host:port` with IPv6 in brackets, or `unix:/path`. */
export function formatAddress(a: ListenAddress): string {
  if ('path' in a) return `unix:${a.path}`;
  return net.isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The address part of a peer (`[::1]:5000` or `1.2.3.4:5000` -> `::1` / `1.2.3.4`). */
export function peerHost(socket: net.Socket): string {
  const a = socket.remoteAddress;
  if (!a) return socket.localAddress === undefined ? 'local' : 'unknown';
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

export interface SecureListenerOptions {
  readonly tls: ServerTls;
  /** Called for each connection that completed the TLS handshake and authenticated. */
  readonly onSecure: (socket: tls.TLSSocket) => void;
  /** Connections from these peers are closed before any byte is read. */
  readonly blocked: (peer: string) => boolean;
  /**
   * A peer failed to authenticate: the TLS exchange itself ended in a refusal
   * (wrong or no pre-shared key, a refused or missing client certificate, a
   * TLS alert, not TLS at all).
   */
  readonly onFailure: (peer: string, reason: string) => void;
  /**
   * A handshake did not finish for a reason that says nothing about the
   * peer's credentials (reset, closed, timed out): a slow or interrupted
   * legitimate client looks like this.
   */
  readonly onIncomplete?: (peer: string, reason: string) => void;
  /** TLS handshakes taking longer are aborted (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** Connections at once per listener (default 4096). */
  readonly maxConnections?: number;
}

/**
 * TCP and Unix listeners whose connections go through TLS (always) before
 * reaching gRPC: refusals happen here, before HTTP/2 or any RPC exists.
 */
export class SecureListener {
  private readonly servers: net.Server[] = [];
  private readonly tlsServer: tls.Server;
  private readonly sockets = new Set<net.Socket>();
  /** The peer of each raw connection (a TLS socket that failed early may no longer know it). */
  private readonly peers = new WeakMap<net.Socket, string>();
  readonly addresses: string[] = [];

  constructor(private readonly options: SecureListenerOptions) {
    const { psk, verifyClientCertificate } = options.tls;
    /** PSK identities offered that are not ours, per TLS socket (for the log). */
    const strangers = new WeakMap<tls.TLSSocket, string>();
    this.tlsServer = tls.createServer({
      ...options.tls.options,
      ...(psk && {
        pskCallback: (socket: tls.TLSSocket, identity: string) => {
          if (identity === psk.identity) return psk.key;
          strangers.set(socket, identity);
          return null;
        },
      }),
      ALPNProtocols: ['h2'],
      handshakeTimeout: options.handshakeTimeoutMs ?? 5000,
    });
    this.tlsServer.on('secureConnection', (socket) => {
      if (verifyClientCertificate && !socket.authorized) {
        const none = Object.keys(socket.getPeerCertificate()).length === 0;
        options.onFailure(
          this.peerOf(socket),
          none
            ? 'no client certificate'
            : `client certificate refused (${String(socket.authorizationError)})`,
        );
        socket.destroy();
        return;
      }
      options.onSecure(socket);
    });
    this.tlsServer.on('tlsClientError', (err, socket) => {
      const peer = this.peerOf(socket);
      const outcome = handshakeFailure(err, psk !== undefined, strangers.get(socket));
      if (outcome.authentication) options.onFailure(peer, outcome.reason);
      else options.onIncomplete?.(peer, outcome.reason);
      socket.destroy();
    });
  }

  private peerOf(socket: tls.TLSSocket): string {
    const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
    return (raw && this.peers.get(raw)) ?? peerHost(socket);
  }

  /** Listen on an address; `[::]`/empty host listens on IPv6 and IPv4 (IPv4 only without IPv6). */
  async listen(address: ListenAddress): Promise<string> {
    const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      const peer = peerHost(socket);
      this.peers.set(socket, peer);
      if (this.options.blocked(peer)) {
        socket.destroy();
        return;
      }
      this.tlsServer.emit('connection', socket);
    });
    server.maxConnections = this.options.maxConnections ?? 4096;
    let bound: ListenAddress;
    if ('path' in address) {
      await mkdir(dirname(address.path), { recursive: true });
      await rm(address.path, { force: true });
      await listenOn(server, { path: address.path }, formatAddress(address));
      bound = address;
    } else if (address.host === '' || address.host === '::') {
      try {
        await listenOn(
          server,
          { host: '::', port: address.port, ipv6Only: false },
          formatAddress(address),
        );
        bound = { host: '::', port: (server.address() as net.AddressInfo).port };
      } catch (err) {
        if (!/EAFNOSUPPORT|EADDRNOTAVAIL/.test(String(err))) throw err;
        await listenOn(server, { host: '0.0.0.0', port: address.port }, formatAddress(address));
        bound = { host: '0.0.0.0', port: (server.address() as net.AddressInfo).port };
      }
    } else {
      await listenOn(server, { host: address.host, port: address.port }, formatAddress(address));
      bound = { host: address.host, port: (server.address() as net.AddressInfo).port };
    }
    this.servers.push(server);
    const text = formatAddress(bound);
    this.addresses.push(text);
    return text;
  }

  /** Stop accepting connections; established ones continue. */
  stopAccepting(): void {
    // net.Server.close() stops listening at once; its callback waits for every connection to end.
    for (const s of this.servers) if (s.listening) s.close();
    this.servers.length = 0;
  }

  /** Stop accepting and drop every connection. */
  close(): void {
    this.stopAccepting();
    for (const s of this.sockets) s.destroy();
  }
}

function listenOn(server: net.Server, opts: net.ListenOptions, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void =>
      reject(new TransportError(`cannot listen on ${text}: ${err.message}`, { cause: err }));
    server.once('error', fail);
    server.listen(opts, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

/**
 * What a failed server-side handshake says about the peer. Only a refusal
 * inside the TLS exchange is an authentication failure; a reset, an early
 * close or a timeout is what a slow or interrupted legitimate client looks
 * like, and is not held against its address.
 */
export function handshakeFailure(
  err: Error & { code?: string },
  psk: boolean,
  strangerIdentity?: string,
): { authentication: boolean; reason: string } {
  const code = err.code ?? '';
  const m = err.message;
  const refused = (reason: string): { authentication: boolean; reason: string } => ({
    authentication: true,
    reason,
  });
  if (code === 'ERR_SSL_BINDER_DOES_NOT_VERIFY')
    return refused('wrong authkey (its TLS pre-shared key does not match ours)');
  if (strangerIdentity !== undefined)
    return refused(
      `unknown TLS pre-shared key identity '${strangerIdentity.slice(0, 64)}' (another remora version?)`,
    );
  if (
    /wrong version number|http request|unknown protocol|packet length too long|record layer failure/i.test(
      m,
    )
  )
    return refused(`not a TLS client (${code || m})`);
  if (psk && /NO_SUITABLE_SIGNATURE_ALGORITHM|NO_SHARED_CIPHER/.test(code))
    return refused('no TLS pre-shared key offered (a TLS client without the authkey)');
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL')
    return refused(
      `TLS version refused (${psk ? 'TLS 1.3 is required' : 'TLS 1.2 or later is required'})`,
    );
  if (/peer did not return a certificate|certificate required/i.test(m))
    return refused('no client certificate');
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1)_ALERT_(\w+)$/.exec(code)?.[1];
  if (alert)
    return refused(
      `the client aborted the handshake (TLS alert '${alert.toLowerCase().replace(/_/g, ' ')}')`,
    );
  if (code.startsWith('ERR_SSL_')) return refused(`TLS handshake failed (${code})`);
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /timed? ?out/i.test(m))
    return { authentication: false, reason: 'TLS handshake timed out' };
  return { authentication: false, reason: `TLS handshake not completed (${code || m})` };
}
