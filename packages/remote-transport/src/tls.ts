import type net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigurationError } from './errors';
import type { PresharedKey } from './psk';
import { derivePresharedKey } from './psk';

/**
 * PEM-encoded TLS material of a site PKI (mutual TLS). Without it, daemon and
 * clients authenticate with the TLS 1.3 pre-shared key derived from the
 * authkey (see derivePresharedKey).
 */
export interface TlsOptions {
  /** The CA that signed the peer's certificate. */
  readonly ca: Buffer;
  /** Our certificate and key (the daemon's; a client's for mutual TLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Client: the name expected in the daemon's certificate (default: the host of the address). */
  readonly serverName?: string;
  /** Daemon: require and verify client certificates (default true: mutual TLS). */
  readonly requireClientCertificate?: boolean;
}

/** How the daemon's listener authenticates clients. */
export interface ServerTls {
  /** Options of the tls.Server. */
  readonly options: tls.TlsOptions;
  /** Authkey mode: the pre-shared key clients must prove. */
  readonly psk?: PresharedKey;
  /**
   * Site PKI with client certificates: check each client's certificate once
   * its handshake completed (Node verifies certificates only after the
   * handshake, on both sides, and would otherwise drop a refused client
   * without telling us).
   */
  readonly verifyClientCertificate: boolean;
}

/** The daemon's TLS: the authkey's pre-shared key (TLS 1.3 only), or the site PKI. */
export function serverTls(authKey: Buffer, site: TlsOptions | undefined): ServerTls {
  if (!site) {
    // No certificate at all: a handshake completes only with the PSK.
    return {
      options: { minVersion: 'TLSv1.3' },
      psk: derivePresharedKey(authKey),
      verifyClientCertificate: false,
    };
  }
  if (!site.cert || !site.key) throw new ConfigurationError('tls: the daemon needs cert and key');
  const mutual = site.requireClientCertificate ?? true;
  return {
    options: {
      cert: site.cert,
      key: site.key,
      ca: site.ca,
      requestCert: mutual,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    verifyClientCertificate: mutual,
  };
}

/** Why a connection attempt failed for a reason retrying will not fix. */
export interface TlsRefusal {
  readonly kind: 'authentication' | 'protocol';
  readonly message: string;
}

/**
 * Channel credentials that authenticate with the authkey's pre-shared key.
 * grpc-js has no PSK option, so this connector runs the TLS handshake itself
 * (grpc-js's ChannelCredentials extension point). The outcome of a refused
 * handshake is kept for the client to report (`takeRefusal`).
 */
export class PresharedKeyCredentials extends grpc.ChannelCredentials {
  private refusal: TlsRefusal | undefined;

  constructor(private readonly psk: PresharedKey) {
    super();
  }

  /** The reason the latest handshake was refused, if it was (cleared by reading it). */
  takeRefusal(): TlsRefusal | undefined {
    const r = this.refusal;
    this.refusal = undefined;
    return r;
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    ...[, , callCredentials]: Parameters<grpc.ChannelCredentials['_createSecureConnector']>
  ): ReturnType<grpc.ChannelCredentials['_createSecureConnector']> {
    const call = callCredentials ?? grpc.credentials.createEmpty();
    let released = false;
    return {
      connect: (socket) => this.handshake(socket),
      // grpc-js keeps retrying a failed subchannel on its backoff timer even
      // after its channel closed; once released (no channel uses it), do not
      // connect again: each retry would cost the daemon a refused handshake.
      waitForReady: () =>
        released ? Promise.reject(new Error('channel closed')) : Promise.resolve(),
      getCallCredentials: () => call,
      destroy: () => {
        released = true;
      },
    };
  }

  private handshake(socket: net.Socket): Promise<{ socket: net.Socket; secure: boolean }> {
    return new Promise((resolve, reject) => {
      const refuse = (r: TlsRefusal): void => {
        this.refusal = r;
        reject(new Error(r.message));
      };
      const t = tls.connect(
        {
          socket,
          ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3',
          pskCallback: () => ({ psk: this.psk.key, identity: this.psk.identity }),
          // The daemon proves the key inside the handshake (OpenSSL checks its
          // Finished message against the PSK); a certificate proves nothing here.
          rejectUnauthorized: false,
          checkServerIdentity: () => undefined,
        },
        () => {
          if (Object.keys(t.getPeerCertificate()).length > 0) {
            // TLS 1.3 has no anonymous handshake: a certificate means no PSK was used.
            t.destroy();
            refuse({
              kind: 'authentication',
              message:
                'the daemon presented a certificate instead of proving the authkey (it uses a site PKI: give tls options; or it is not a remora daemon)',
            });
            return;
          }
          this.refusal = undefined;
          resolve({ socket: t, secure: true });
        },
      );
      // Stays attached: grpc-js adds its own handlers once it has the socket.
      t.on('error', (err: Error & { code?: string }) => {
        const r = clientRefusal(err);
        if (r) refuse(r);
        else reject(err);
      });
    });
  }
}

/** A client's view of a failed handshake: a refusal, or undefined for a transient failure. */
function clientRefusal(err: Error & { code?: string }): TlsRefusal | undefined {
  const code = err.code ?? '';
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1)_ALERT_(\w+)$/
    .exec(code)?.[1]
    ?.toLowerCase()
    .replace(/_/g, ' ');
  if (alert === 'illegal parameter' || alert === 'decrypt error' || alert === 'bad record mac')
    return {
      kind: 'authentication',
      message: `wrong authkey: the daemon could not verify our pre-shared key (TLS alert '${alert}')`,
    };
  if (
    code === 'ERR_SSL_DIGEST_CHECK_FAILED' ||
    code === 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC'
  )
    return {
      kind: 'authentication',
      message: `wrong authkey: the daemon did not prove our pre-shared key (${code})`,
    };
  if (alert === 'handshake failure')
    return {
      kind: 'authentication',
      message:
        "the daemon refused the TLS handshake (TLS alert 'handshake failure'): it accepts no pre-shared key of ours (another remora version, or not a remora daemon)",
    };
  if (alert === 'protocol version' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL')
    return {
      kind: 'protocol',
      message: 'the daemon does not speak TLS 1.3 (an older remora remoted, or another service)',
    };
  if (
    /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE/.test(code)
  )
    return {
      kind: 'protocol',
      message:
        'the daemon does not speak TLS (an older remora remoted, or another service on that port)',
    };
  if (alert)
    return {
      kind: 'authentication',
      message: `the daemon refused the TLS handshake (TLS alert '${alert}')`,
    };
  return undefined;
}

/**
 * gRPC channel credentials and options of a client: the authkey's pre-shared
 * key, or the site PKI.
 */
export function clientCredentials(
  authKey: Buffer,
  site: TlsOptions | undefined,
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!site)
    return { credentials: new PresharedKeyCredentials(derivePresharedKey(authKey)), options: {} };
  if ((site.cert === undefined) !== (site.key === undefined))
    throw new ConfigurationError('tls: a client certificate needs its key (and the reverse)');
  const credentials = grpc.credentials.createSsl(site.ca, site.key ?? null, site.cert ?? null);
  return {
    credentials,
    options: site.serverName ? { 'grpc.ssl_target_name_override': site.serverName } : {},
  };
}
