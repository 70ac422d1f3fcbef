import { CliError } from './errors';
import { ExitCode } from './exit-codes';

/** Commander collector for repeatable `--x name=value` options. */
export function collectPair(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) {
    throw new CliError(`'${value}' is not name=value`, ExitCode.USAGE);
  }
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Parse a duration option (`20s`, `500ms`, `1min`, ISO 8601 `PT20S`, bare number = seconds) into ms. */
export function durationOption(
  option: string,
  value: string,
  parse: (spec: string) => number | undefined,
): number {
  const ms = parse(value);
  if (ms === undefined) {
    throw new CliError(
      `${option}: '${value}' is not a duration (e.g. 20s, 500ms, 2min, PT20S)`,
      ExitCode.USAGE,
    );
  }
  return ms;
}
