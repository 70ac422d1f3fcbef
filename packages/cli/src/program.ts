import { Command, CommanderError } from 'commander';
import { commandGroups } from './commands';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../package.json') as { version: string };

/** Build the `remora` program with every command group registered. */
export function createProgram(): Command {
  const program = new Command('remora')
    .description(
      'remora: run and inspect a high-availability cluster extended into guest and remote nodes',
    )
    .version(version, '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const register of commandGroups) register(program);
  return program;
}

/**
 * Run `remora` with the given arguments (as in `process.argv`) and return the
 * exit code. Usage errors exit 64, CliErrors with their own code, anything
 * else is reported as an internal error (70) with its stack when
 * REMORA_DEBUG is set.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exitCode 0.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`remora: ${err.message}\n`);
      return err.exitCode;
    }
    const detail = process.env.REMORA_DEBUG && err instanceof Error ? err.stack : String(err);
    process.stderr.write(`remora: internal error: ${detail}\n`);
    return ExitCode.SOFTWARE;
  }
}
