export {
  AUTH_METADATA,
  checkToken,
  generateAuthKey,
  makeToken,
  readAuthKey,
  writeAuthKey,
} from './auth';
export { RemoteClient } from './client';
export type { ConnectionEvent, ConnectionState, RelayHandler, RemoteClientOptions } from './client';
export type { RemoteRequest, RemoteResult } from './convert';
export { DEFAULT_PORT, PROTOCOL_VERSION, RemoteDaemon } from './daemon';
export type { RemoteDaemonOptions } from './daemon';
export {
  AuthenticationError,
  ConfigurationError,
  DisconnectedError,
  ProtocolError,
  TransportError,
} from './errors';
export type { RelayCall, RelayResponse } from './gen/remora/remote/v1/remote';
export { DEFAULT_LOCAL_SOCKET, relayCommand } from './local-relay';
export type { TlsOptions } from './tls';
