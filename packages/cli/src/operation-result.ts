import type { OperationResult } from '@remora/agent-runner';
import { ExitCode } from './exit-codes';
import type { OutputFormat } from './output';
import { printJson } from './output';

function line(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Print an operation result as `remora agent run` and `remora exec` do (the
 * agent's output, then one summary line on stderr; or JSON) and set the exit
 * code: the agent's rc, 124 on timeout, 130 when cancelled.
 */
export function reportOperationResult(
  result: OperationResult,
  format: OutputFormat,
  rcName: (rc: OperationResult['rc']) => string,
  where?: string,
): void {
  if (format === 'json') printJson(result);
  else {
    if (result.stdout) process.stdout.write(line(result.stdout));
    if (result.stderr) process.stderr.write(line(result.stderr));
    const on = where ? ` on ${where}` : '';
    const reason = result.exitReason ? `: ${result.exitReason}` : '';
    process.stderr.write(
      `${result.operationKey}${on}: rc=${result.rc} (${rcName(result.rc)}) ${result.execStatus} in ${result.runTime} ms${reason}\n`,
    );
  }
  if (result.execStatus === 'timed-out') process.exitCode = ExitCode.TIMEOUT;
  else if (result.execStatus === 'cancelled') process.exitCode = 130;
  else process.exitCode = result.rc;
}
