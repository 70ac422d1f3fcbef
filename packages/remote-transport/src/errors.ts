/** Base class of every error @remora/remote-transport throws. */
export class TransportError extends Error {
  override name = 'TransportError';
}

/** The peer rejected our authkey, or we rejected theirs. */
export class AuthenticationError extends TransportError {
  override name = 'AuthenticationError';
}

/** The daemon speaks another protocol version, or answered nonsense. */
export class ProtocolError extends TransportError {
  override name = 'ProtocolError';
}

/** The connection is down (daemon dead, unreachable, or the client closed). */
export class DisconnectedError extends TransportError {
  override name = 'DisconnectedError';
  constructor(
    readonly address: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${address}: ${detail}`, options);
  }
}

/** A bad authkey file or bad options given by the caller. */
export class ConfigurationError extends TransportError {
  override name = 'ConfigurationError';
}
