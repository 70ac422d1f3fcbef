import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The installed `remora` binary (linked by npm, built by setup). */
export const remoraBin = path.resolve(__dirname, '../../../node_modules/.bin/remora');

export interface RemoraRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `remora` with arguments and capture exit code and output; never rejects on a non-zero exit. */
export async function runRemora(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RemoraRun> {
  try {
    const { stdout, stderr } = await execFileAsync(remoraBin, [...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
