import type { Command } from 'commander';
import { clusterOptions, connectCluster } from '../cluster';
import type { ClusterOptions } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { durationOption } from '../options';
import { parseOutputFormat } from '../output';
import { buildStatusView, formatStatus, formatStatusXml } from '@remora/scheduler';

interface StatusOptions extends ClusterOptions {
  readonly outputAs: string;
  readonly watch?: boolean;
  readonly interval: string;
  readonly oneShot?: boolean;
}

/** `remora status` (crm_mon -1 -r -f). */
export function registerStatusCommands(program: Command): void {
  clusterOptions(
    program
      .command('status')
      .description(
        'show the cluster: nodes (cluster, remote, guest), where each resource runs, fail counts and failed actions (crm_mon)',
      )
      .option('-1, --one-shot', 'print once and exit (the default)')
      .option('-w, --watch', 'redraw whenever the status changes, until interrupted')
      .option('-i, --interval <duration>', 'how often --watch asks the cluster', '2s')
      .option(
        '--output-as <format>',
        'text (as crm_mon -1 -r -f), json or xml (as crm_mon --output-as xml)',
        'text',
      ),
  )
    .addHelpText(
      'after',
      `
Examples:
  remora status
  remora status --watch
  remora status --output-as json
  CIB_file=cib.xml remora status

Exit codes: 0 ok, 102 not connected to a cluster, 65 the CIB is not XML,
66 the CIB file cannot be read, 78 the CIB is not valid, 64 usage.`,
    )
    .action(async (options: StatusOptions) => {
      const format = parseOutputFormat(options.outputAs, ['text', 'json', 'xml']);
      const cluster = connectCluster(options);
      const render = async (): Promise<string> => {
        const snap = await cluster.query();
        const view = buildStatusView(snap.cib);
        if (format === 'json') return `${JSON.stringify(view, null, 2)}\n`;
        if (format === 'xml') return formatStatusXml(view, `remora status --output-as xml`);
        return formatStatus(view);
      };
      if (!options.watch) {
        process.stdout.write(await render());
        return;
      }
      if (format !== 'text') throw new CliError('--watch prints text only', ExitCode.USAGE);
      const { parseDuration } = await import('@remora/agent-runner');
      const intervalMs = durationOption('--interval', options.interval, parseDuration);
      await watch(render, intervalMs);
    });
}

/** Redraw when the status (apart from the clock line) changes; ends on SIGINT/SIGTERM. */
async function watch(render: () => Promise<string>, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true;
  let last = '';
  try {
    while (!stop.signal.aborted) {
      let text: string;
      try {
        text = await render();
      } catch (err) {
        // Keep watching through a lost connection; say so in place of the status.
        if (!(err instanceof CliError) || err.exitCode !== ExitCode.DISCONNECT) throw err;
        text = `${err.message}\n`;
      }
      const key = text.replace(/^ {2}\* Last updated: .*$/m, '');
      if (key !== last) {
        last = key;
        process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, intervalMs);
        stop.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
