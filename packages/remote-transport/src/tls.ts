import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigurationError } from './errors';
import { DERIVED_SERVER_NAME, deriveIdentity } from './tls-identity';

/**
 * PEM-encoded TLS material of a site PKI (mutual TLS). Without it, daemon and
 * clients use the TLS identity derived from the authkey (see deriveIdentity).
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

/** Options for the daemon's tls.Server: derived identity, or the site PKI. Mutual unless disabled. */
export function serverTlsOptions(
  authKey: Buffer,
  tls: TlsOptions | undefined,
): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  if (!tls) {
    const id = deriveIdentity(authKey);
    return { cert: id.cert, key: id.key, ca: id.cert, requestCert: true, rejectUnauthorized: true };
  }
  if (!tls.cert || !tls.key) throw new ConfigurationError('tls: the daemon needs cert and key');
  const mutual = tls.requireClientCertificate ?? true;
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
}

/** gRPC channel credentials and options of a client: derived identity, or the site PKI. */
export function clientCredentials(
  authKey: Buffer,
  tls: TlsOptions | undefined,
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!tls) {
    const id = deriveIdentity(authKey);
    const credentials = grpc.credentials.createSsl(id.cert, id.key, id.cert, {
      // The chain check already pins the one derived certificate; check it byte for byte too.
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        cert.fingerprint256 === id.fingerprint256
          ? undefined
          : new Error('the daemon presented a certificate not derived from our authkey'),
    });
    return { credentials, options: { 'grpc.ssl_target_name_override': DERIVED_SERVER_NAME } };
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new ConfigurationError('tls: a client certificate needs its key (and the reverse)');
  const credentials = grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
  return {
    credentials,
    options: tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {},
  };
}
