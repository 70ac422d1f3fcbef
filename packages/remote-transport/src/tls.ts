import * as grpc from '@grpc/grpc-js';

/** PEM-encoded TLS material. */
export interface TlsOptions {
  /** The CA that signed the peer's certificate. */
  readonly ca: Buffer;
  /** Our certificate and key (servers always; clients for mutual TLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (!tls.cert || !tls.key) throw new Error('tls: a server needs cert and key');
  return grpc.ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    false,
  );
}

export function channelCredentials(tls: TlsOptions | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
}
