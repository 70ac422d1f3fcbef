/** Base class of every error @remora/libvirt-launcher throws. */
export class LibvirtError extends Error {
  override name = 'LibvirtError';
}

/** The `virsh` program is not installed (or not where we were told). */
export class VirshNotFoundError extends LibvirtError {
  override name = 'VirshNotFoundError';
  constructor(
    readonly virsh: string,
    options?: ErrorOptions,
  ) {
    super(
      `virsh not found (${virsh}): install the Debian package libvirt-clients ` +
        '(apt-get install --no-install-recommends libvirt-clients), or pass the path of virsh',
      options,
    );
  }
}

/** What a failed `virsh` command left us: its arguments, exit code and stderr. */
export interface VirshFailure {
  readonly uri: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  /** libvirt's message (the `error:` lines of virsh's stderr). */
  readonly libvirtMessage: string;
}

/** A `virsh` command failed for a reason none of the other classes names. */
export class VirshCommandError extends LibvirtError {
  override name = 'VirshCommandError';
  readonly uri: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly libvirtMessage: string;
  constructor(failure: VirshFailure, message?: string, options?: ErrorOptions) {
    super(
      message ??
        `virsh -c ${failure.uri} ${failure.args.join(' ')} failed (exit ${failure.exitCode}): ${failure.libvirtMessage}`,
      options,
    );
    this.uri = failure.uri;
    this.args = failure.args;
    this.exitCode = failure.exitCode;
    this.libvirtMessage = failure.libvirtMessage;
  }
}

/** The libvirt daemon behind the URI cannot be reached (not running, wrong socket, refused). */
export class LibvirtUnreachableError extends VirshCommandError {
  override name = 'LibvirtUnreachableError';
  constructor(failure: VirshFailure, options?: ErrorOptions) {
    super(
      failure,
      `libvirt is unreachable at ${failure.uri}: ${failure.libvirtMessage} ` +
        '(is libvirtd running, and is the socket in the URI right?)',
      options,
    );
  }
}

/** libvirt rejected a domain XML (parse error, schema violation, unsupported configuration). */
export class InvalidDomainXmlError extends VirshCommandError {
  override name = 'InvalidDomainXmlError';
  constructor(
    failure: VirshFailure,
    /** Where the XML came from (a file path, or the domain name for generated XML). */
    readonly source: string,
    options?: ErrorOptions,
  ) {
    super(failure, `invalid domain XML (${source}): ${failure.libvirtMessage}`, options);
  }
}

/** A domain of that name (or UUID) already exists on the connection. */
export class DomainExistsError extends VirshCommandError {
  override name = 'DomainExistsError';
  constructor(
    failure: VirshFailure,
    readonly domain: string,
    options?: ErrorOptions,
  ) {
    super(
      failure,
      `domain '${domain}' already exists on ${failure.uri}: ${failure.libvirtMessage}`,
      options,
    );
  }
}

/** No domain of that name on the connection. */
export class DomainNotFoundError extends VirshCommandError {
  override name = 'DomainNotFoundError';
  constructor(
    failure: VirshFailure,
    readonly domain: string,
    options?: ErrorOptions,
  ) {
    super(failure, `no domain '${domain}' on ${failure.uri}: ${failure.libvirtMessage}`, options);
  }
}

/** The hypervisor driver (or this pair of connections) cannot migrate the domain. */
export class MigrationUnsupportedError extends VirshCommandError {
  override name = 'MigrationUnsupportedError';
  constructor(
    failure: VirshFailure,
    readonly domain: string,
    readonly destination: string,
    options?: ErrorOptions,
  ) {
    super(
      failure,
      `cannot migrate '${domain}' from ${failure.uri} to ${destination}: migration is not ` +
        `supported by this libvirt driver (${failure.libvirtMessage}); stop it here and start it there instead`,
      options,
    );
  }
}

/**
 * A migration the driver supports failed: the destination's migration
 * address was unreachable from the source, the guest has a device that
 * blocks migration, the destination refused it, ... (libvirt's message).
 * The guest keeps running on the source.
 */
export class MigrationFailedError extends VirshCommandError {
  override name = 'MigrationFailedError';
  constructor(
    failure: VirshFailure,
    readonly domain: string,
    readonly destination: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(
      failure,
      `migrating '${domain}' from ${failure.uri} to ${destination} failed: ${failure.libvirtMessage}` +
        (hint ? ` (${hint})` : ''),
      options,
    );
  }
}

/** Bad input to a builder or a method: names the field and what was wrong. */
export class InvalidConfigError extends LibvirtError {
  override name = 'InvalidConfigError';
  constructor(
    /** The field, e.g. `interfaces[0].mac`. */
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** A guest did not reach the wanted state (or its remote daemon did not answer) in time. */
export class GuestTimeoutError extends LibvirtError {
  override name = 'GuestTimeoutError';
  constructor(
    readonly domain: string,
    readonly waitedMs: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${domain}: ${detail} (waited ${waitedMs} ms)`, options);
  }
}

/** The guest stopped (or crashed) while we waited for it to become ready. */
export class GuestStoppedError extends LibvirtError {
  override name = 'GuestStoppedError';
  constructor(
    readonly domain: string,
    readonly state: string,
    detail: string,
  ) {
    super(`${domain}: ${detail}`);
  }
}

/** A private libvirtd could not be started (not root, no unshare, libvirtd failed, ...). */
export class PrivateLibvirtdError extends LibvirtError {
  override name = 'PrivateLibvirtdError';
  constructor(
    message: string,
    /** The tail of libvirtd's log, when it ran. */
    readonly logTail = '',
    options?: ErrorOptions,
  ) {
    super(logTail ? `${message}\n--- libvirtd log (tail) ---\n${logTail}` : message, options);
  }
}
