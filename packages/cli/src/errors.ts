import { ExitCode } from './exit-codes';

/**
 * An error the CLI reports as one clear line on stderr (no stack trace) and
 * turns into an exit code. Commands throw it for anything the operator did
 * wrong or should know; any other error is a bug and exits with SOFTWARE.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = ExitCode.ERROR, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
