export {
  AUTH_METADATA,
  DEFAULT_AUTHKEY,
  authKeyPath,
  checkToken,
  generateAuthKey,
  makeToken,
  readAuthKey,
  writeAuthKey,
} from './auth';
export type { AuthLimits, DaemonLogEntry, DaemonLogger } from './auth-guard';
export { RemoteClient } from './client';
export { eventFeed } from './event-feed';
export type {
  ConnectionEvent,
  ConnectionState,
  DaemonInfo,
  DrainHandler,
  DrainRequest,
  RelayHandler,
  RemoteClientOptions,
  ResultPosition,
  SubmittedOperation,
} from './client';
export type { RemoteRequest, RemoteResult } from './convert';
export { DEFAULT_PORT, PROTOCOL_MINOR, PROTOCOL_VERSION, RemoteDaemon } from './daemon';
export type { DaemonLimits, RemoteDaemonOptions, ShutdownOutcome } from './daemon';
export {
  AuthenticationError,
  ConfigurationError,
  DisconnectedError,
  ProtocolError,
  TransportError,
} from './errors';
export type { RelayCall, RelayResponse } from './gen/remora/remote/v1/remote';
export { formatAddress, parseListenAddress } from './listener';
export type { ListenAddress } from './listener';
export { DEFAULT_LOCAL_SOCKET, relayCommand } from './local-relay';
export type { TlsOptions } from './tls';
export { PSK_IDENTITY, derivePresharedKey } from './psk';
export type { PresharedKey } from './psk';
export { checkAgentName, checkResourceId } from './validate';
