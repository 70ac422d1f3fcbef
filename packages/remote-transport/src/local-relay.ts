import * as grpc from '@grpc/grpc-js';
import { DisconnectedError } from './errors';
import type { RelayResponse } from './gen/remora/remote/v1/remote';
import { LocalRelayClient } from './gen/remora/remote/v1/remote';

/** Default path of the daemon's local socket. */
export const DEFAULT_LOCAL_SOCKET = '/run/remora/remoted.sock';

/**
 * Send a CLI command to the cluster through the local daemon (on a remote or
 * guest node). Resolves with the cluster's answer; exit code 102 when the
 * node is not connected to a cluster. Rejects with DisconnectedError when no
 * daemon listens on the socket.
 */
export function relayCommand(
  command: string,
  args: unknown,
  options: { readonly socket?: string; readonly timeoutMs?: number } = {},
): Promise<RelayResponse> {
  const socket = options.socket ?? DEFAULT_LOCAL_SOCKET;
  const client = new LocalRelayClient(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise<RelayResponse>((resolve, reject) => {
    client.call(
      { id: 0, command, argumentsJson: JSON.stringify(args ?? {}), nodeName: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + (options.timeoutMs ?? 35_000) },
      (err, res) => {
        client.close();
        if (err)
          reject(
            new DisconnectedError(`unix:${socket}`, `no remote daemon answers (${err.details})`, {
              cause: err,
            }),
          );
        else resolve(res!);
      },
    );
  });
}
