import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import type { CibInputOptions } from '../input';
import { readCibInput } from '../input';
import { parseOutputFormat, printJson } from '../output';

interface SimulateOptions extends CibInputOptions {
  readonly simulate?: boolean;
  readonly showScores?: boolean;
  readonly saveGraph?: string;
  readonly date?: string;
  readonly outputAs: string;
}

/** `remora simulate` (crm_simulate): what the scheduler would do with a CIB. */
export function registerSimulateCommands(program: Command): void {
  program
    .command('simulate')
    .description(
      'show what the cluster would do with a CIB, as crm_simulate does: current status, the transition summary, and with -S the executed actions and the resulting status',
    )
    .option('-x, --xml-file <file>', 'the CIB file (default: $CIB_file)')
    .option('-X, --xml-text <xml>', 'the CIB as text')
    .option('-p, --xml-pipe', 'read the CIB from stdin')
    .option('-S, --simulate', 'execute the transition (every action succeeds) and show the result')
    .option('-s, --show-scores', 'show the node scores behind each placement')
    .option(
      '-G, --save-graph <file>',
      "write the transition graph: Pacemaker's <transition_graph> XML when the file name ends in .xml, else JSON",
    )
    .option('-d, --date <when>', 'run as if it were this date/time (ISO 8601)')
    .option('--output-as <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  remora simulate -x cib.xml -S\n  remora simulate -x cib.xml -G graph.json --output-as json\n  remora simulate -x cib.xml -G graph.xml   # as crm_simulate -G writes it',
    )
    .action(async (options: SimulateOptions) => {
      const format = parseOutputFormat(options.outputAs);
      const { text, source } = await readCibInput(options);
      let now: Date | undefined;
      if (options.date !== undefined) {
        now = new Date(options.date);
        if (Number.isNaN(now.getTime()))
          throw new CliError(
            `--date '${options.date}' is not a date (use ISO 8601, e.g. 2026-01-31T12:00:00Z)`,
            ExitCode.USAGE,
          );
      }
      const { parseXml, readCib } = await import('@remora/cib');
      const { schedule, formatSimulation, transitionGraphXml } = await import('@remora/scheduler');
      let result;
      try {
        result = schedule(readCib(parseXml(text, { source })), { now });
      } catch (err) {
        throw new CliError(
          `cannot schedule this CIB: ${(err as Error).message}`,
          ExitCode.DATAERR,
          { cause: err },
        );
      }
      if (options.saveGraph !== undefined)
        await writeFile(
          options.saveGraph,
          options.saveGraph.toLowerCase().endsWith('.xml')
            ? transitionGraphXml(result)
            : `${JSON.stringify({ actions: result.actions }, null, 2)}\n`,
        );
      if (format === 'json') printJson(result);
      else
        process.stdout.write(
          formatSimulation(result, { simulate: options.simulate, scores: options.showScores }),
        );
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    });
}
