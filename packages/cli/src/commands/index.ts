import type { Command } from 'commander';
import { registerAgentCommands } from './agent';
import { registerCibCommands } from './cib';
import { registerRemoteCommands } from './remote';

/**
 * Every command group of `remora`. Each lives in its own file under
 * `commands/` and adds itself to the program; add new groups here.
 */
export const commandGroups: ReadonlyArray<(program: Command) => void> = [
  registerAgentCommands,
  registerCibCommands,
  registerRemoteCommands,
];
