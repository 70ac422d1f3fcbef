import { CliError } from './errors';
import { ExitCode } from './exit-codes';

/** Output formats every data-printing command accepts with `--output-as`. */
export const OutputFormat = { text: 'text', json: 'json', xml: 'xml' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** Validate an `--output-as` value against the formats a command supports. */
export function parseOutputFormat(
  value: string | undefined,
  supported: readonly OutputFormat[] = ['text', 'json'],
): OutputFormat {
  const format = (value ?? 'text') as OutputFormat;
  if (!supported.includes(format)) {
    throw new CliError(
      `--output-as: unsupported format '${value}' (supported: ${supported.join(', ')})`,
      ExitCode.USAGE,
    );
  }
  return format;
}

/** Print a value as stable, indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
