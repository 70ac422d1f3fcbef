/**
 * Recognise libvirt's failures from virsh's stderr (virsh runs with
 * LC_ALL=C) and turn them into the package's named errors.
 */
import type { VirshFailure } from './errors';
import {
  DomainExistsError,
  DomainNotFoundError,
  InvalidDomainXmlError,
  LibvirtUnreachableError,
  MigrationFailedError,
  MigrationUnsupportedError,
  VirshCommandError,
} from './errors';

/** libvirt's message: the `error:` lines of virsh's stderr, without the prefix. */
export function libvirtMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== '^' && l !== '(null)');
  const first = lines.findIndex((l) => l.startsWith('error:'));
  const text = (first >= 0 ? lines.slice(first) : lines)
    .map((l) => (l.startsWith('error:') ? l.slice(6).trim() : l))
    // virsh names the temporary file it read the XML from: not useful to anyone
    .filter((l) => !/^Failed to (define|create) domain from /.test(l))
    .join('; ');
  return text || '(no message)';
}

const UNREACHABLE =
  /failed to connect to the hypervisor|Failed to connect socket(?! to '[^']*virtlo(?:g|ck)d-sock')|Cannot recv data|End of file while reading data|Connection refused|no connection driver available|Cannot write data: Broken pipe|client socket is closed/i;
const NOT_FOUND = /Domain not found|failed to get domain|no domain with matching (name|uuid|id)/i;
const EXISTS =
  /already exists with uuid|domain '[^']*' already exists|is already (defined|active) with uuid/i;
const XML =
  /XML error|XML document failed to validate|\(domain_definition\)|Document is empty|failed to parse xml|unsupported configuration|Extra content at the end of the document|Opening and ending tag mismatch|expected unit|Invalid value|invalid argument: could not find capabilities|unknown OS type|Element domain/i;
const MIGRATION_UNSUPPORTED =
  /not supported by the connection driver: virDomainMigrate|migration is not supported|this function is not supported by the connection driver: virDomainMigrate|does not support migration|offline migration is not supported|Migration not supported/i;
/** The guest has something that cannot move (QEMU migration blockers, e.g. a mounted 9p share). */
const MIGRATION_BLOCKED =
  /migration is disabled|cannot migrate domain|Migration disabled|migration blocked/i;

export type FailureContext =
  | { readonly kind: 'command'; readonly domain?: string }
  | { readonly kind: 'define'; readonly source: string; readonly domain?: string }
  | { readonly kind: 'migrate'; readonly domain: string; readonly destination: string };

/** The error for a failed virsh command. */
export function errorFor(failure: VirshFailure, context: FailureContext): VirshCommandError {
  const msg = failure.libvirtMessage;
  if (context.kind === 'migrate') {
    if (MIGRATION_UNSUPPORTED.test(msg))
      return new MigrationUnsupportedError(failure, context.domain, context.destination);
    // virsh reached both daemons (it says "failed to connect to the hypervisor" when
    // it does not): a refused connection is the migration's own channel.
    if (!/failed to connect to the hypervisor/i.test(msg) && UNREACHABLE.test(msg)) {
      return new MigrationFailedError(
        failure,
        context.domain,
        context.destination,
        /unable to connect to server/i.test(msg)
          ? "the source could not reach the destination's migration address; give migrateUri: " +
              'tcp://<destination address the source reaches> or unix:///<socket path both hosts see>'
          : undefined,
      );
    }
    if (MIGRATION_BLOCKED.test(msg))
      return new MigrationFailedError(failure, context.domain, context.destination);
  }
  if (UNREACHABLE.test(msg)) return new LibvirtUnreachableError(failure);
  if (EXISTS.test(msg)) {
    const named = /domain '([^']*)'/.exec(msg)?.[1];
    return new DomainExistsError(failure, named ?? context.domain ?? '?');
  }
  if (context.kind === 'define' && XML.test(msg)) {
    return new InvalidDomainXmlError(failure, context.source);
  }
  if (NOT_FOUND.test(msg) && context.domain !== undefined) {
    return new DomainNotFoundError(failure, context.domain);
  }
  return new VirshCommandError(failure);
}

/** Whether libvirt said the domain does not exist. */
export function isNotFoundMessage(message: string): boolean {
  return NOT_FOUND.test(message);
}

/** Whether libvirt said the domain is not running (destroy/shutdown of a stopped domain). */
export function isNotRunningMessage(message: string): boolean {
  return /domain is not running|not running|Requested operation is not valid: domain is not running/i.test(
    message,
  );
}
