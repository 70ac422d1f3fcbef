import type * as AgentRunnerLib from '@remora/agent-runner';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { collectPair, durationOption } from '../options';
import { reportOperationResult } from '../operation-result';
import { parseOutputFormat, printJson } from '../output';

type AgentRunnerModule = typeof AgentRunnerLib;

/** Loaded on first use so that `remora` starts fast for other commands. */
async function agentRunner(): Promise<AgentRunnerModule> {
  return import('@remora/agent-runner');
}

/** Map the runner's typed request errors to one-line usage errors. */
function asCliError(err: unknown, lib: AgentRunnerModule): never {
  if (err instanceof lib.AgentRunnerError)
    throw new CliError(err.message, ExitCode.INVALID_PARAM, { cause: err });
  throw err;
}

interface RunOptions {
  readonly param?: Record<string, string>;
  readonly meta?: Record<string, string>;
  readonly resource?: string;
  readonly timeout?: string;
  readonly ocfRoot?: string;
  readonly outputAs?: string;
}

/** `remora agent list|meta-data|run`: resource agents on this machine, run for real. */
export function registerAgentCommands(program: Command): void {
  const agent = program
    .command('agent')
    .description(
      'list, describe and run resource agents (OCF, LSB, systemd, upstart) on this machine',
    );

  agent
    .command('list')
    .argument(
      '[class]',
      "a class (ocf, lsb, systemd, upstart, service), 'ocf:<provider>', or 'providers'",
    )
    .option('--ocf-root <dir>', 'OCF root directory', '/usr/lib/ocf')
    .option('--output-as <format>', 'text or json', 'text')
    .description('list agent classes, OCF providers, or the agents of a class')
    .addHelpText(
      'after',
      '\nExamples:\n  remora agent list\n  remora agent list ocf:heartbeat\n  remora agent list lsb',
    )
    .action(async (spec: string | undefined, options: { ocfRoot: string; outputAs: string }) => {
      const format = parseOutputFormat(options.outputAs);
      const lib = await agentRunner();
      await using runner = new lib.AgentRunner({ ocfRoot: options.ocfRoot });
      let names: string[];
      if (spec === undefined) names = await runner.listClasses();
      else if (spec === 'providers') names = await runner.listProviders();
      else {
        const [cls, provider] = spec.split(':', 2);
        if (!lib.isAgentClass(cls!)) {
          throw new CliError(
            `unknown agent class '${cls}' (known: ocf, lsb, systemd, upstart, service)`,
            ExitCode.INVALID_PARAM,
          );
        }
        names = await runner
          .listAgents(cls, provider)
          .catch((err: unknown) => asCliError(err, lib));
      }
      if (format === 'json') printJson(names);
      else for (const n of names) process.stdout.write(`${n}\n`);
    });

  agent
    .command('meta-data')
    .argument('<agent>', 'agent identity, e.g. ocf:heartbeat:Dummy, lsb:atd, systemd:nginx')
    .option('--ocf-root <dir>', 'OCF root directory', '/usr/lib/ocf')
    .option('--output-as <format>', 'xml (as the agent prints it), json or text', 'xml')
    .description("print an agent's meta-data")
    .addHelpText(
      'after',
      '\nExample:\n  remora agent meta-data ocf:heartbeat:IPaddr2 --output-as json',
    )
    .action(async (spec: string, options: { ocfRoot: string; outputAs: string }) => {
      const format = parseOutputFormat(options.outputAs, ['xml', 'json', 'text']);
      const lib = await agentRunner();
      await using runner = new lib.AgentRunner({ ocfRoot: options.ocfRoot });
      let md;
      try {
        md = await runner.metaData(spec);
      } catch (err) {
        if (err instanceof lib.MetadataError)
          throw new CliError(err.message, ExitCode.NOT_INSTALLED, { cause: err });
        asCliError(err, lib);
      }
      if (format === 'xml') process.stdout.write(md.xml.endsWith('\n') ? md.xml : `${md.xml}\n`);
      else if (format === 'json') {
        const { xml: _xml, ...rest } = md;
        printJson(rest);
      } else {
        process.stdout.write(
          `${md.name} (${spec}) ${md.version}: ${md.shortdesc}\n\nParameters:\n`,
        );
        for (const p of md.parameters) {
          const flags = [p.required ? 'required' : '', p.unique ? 'unique' : '']
            .filter(Boolean)
            .join(', ');
          process.stdout.write(
            `  ${p.name} (${p.type}${p.default !== undefined ? `, default ${p.default}` : ''}${flags ? `, ${flags}` : ''}): ${p.shortdesc}\n`,
          );
        }
        process.stdout.write('\nActions:\n');
        for (const a of md.actions) {
          process.stdout.write(
            `  ${a.name}${a.timeout !== undefined ? ` timeout=${a.timeout}ms` : ''}${a.interval ? ` interval=${a.interval}ms` : ''}\n`,
          );
        }
      }
    });

  agent
    .command('run')
    .argument('<agent>', 'agent identity, e.g. ocf:heartbeat:Dummy')
    .argument(
      '<action>',
      'start, stop, monitor, validate-all, promote, demote, notify, reload, ...',
    )
    .option('-p, --param <name=value>', 'instance parameter (repeatable)', collectPair)
    .option('-m, --meta <name=value>', 'meta attribute (repeatable)', collectPair)
    .option('-r, --resource <id>', 'resource id (OCF_RESOURCE_INSTANCE)', 'remora-cli')
    .option('-t, --timeout <duration>', 'kill the agent after this long (e.g. 20s)', '20s')
    .option('--ocf-root <dir>', 'OCF root directory', '/usr/lib/ocf')
    .option('--output-as <format>', 'text or json', 'text')
    .description("run one action of an agent; exits with the agent's OCF rc (124 on timeout)")
    .addHelpText(
      'after',
      '\nExamples:\n  remora agent run ocf:heartbeat:Dummy start -p state=/tmp/d.state\n  remora agent run lsb:atd monitor',
    )
    .action(async (spec: string, action: string, options: RunOptions) => {
      const format = parseOutputFormat(options.outputAs);
      const lib = await agentRunner();
      const timeout = durationOption('--timeout', options.timeout ?? '20s', lib.parseDuration);
      await using runner = new lib.AgentRunner({ ocfRoot: options.ocfRoot });
      const ac = new AbortController();
      const onSignal = (): void => ac.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      let result;
      try {
        result = await runner.execute(
          {
            resourceId: options.resource ?? 'remora-cli',
            agent: spec,
            action,
            params: options.param,
            meta: options.meta,
            timeout,
          },
          { signal: ac.signal },
        );
      } catch (err) {
        asCliError(err, lib);
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
      reportOperationResult(result, format, lib.ocfRcName);
    });
}
