export { createProgram, run } from './program';
export { CliError } from './errors';
export { ExitCode } from './exit-codes';
export { OutputFormat, parseOutputFormat, printJson } from './output';
