// Dispatches `p2p <command>` to its module.
import { UsageError } from './args';
import { EnxameError } from '../core/errors';

export const USAGE = `enxame: a BitTorrent-style swarm (UDP tracker, TCP peers, rarest piece first)

usage:
  p2p tracker [--host HOST] [--port PORT]
      Runs the tracker. Asks for the IP and port when they are not given.
  p2p peer [--tracker HOST:PORT] [--ip OWN_IP] [--port TCP_PORT] [--dir FOLDER]
         [--max-up RATE] [--max-down RATE] [--piece-size SIZE] [--policy rarest|random|sequential]
      Runs a peer that shares every file in FOLDER (default: the current folder)
      and downloads into it. Asks for the tracker IP, tracker port and its own IP
      when they are not given. Then reads commands at the "> " prompt:
      !baixar [NAME], !meus_pedacos, !sair, !ajuda (or !download, !pieces, !quit, !help).
  p2p demo [--dir FOLDER] [--size MIB] [--seed-up RATE] [--keep]
      Starts a tracker and four peers on 127.0.0.1 (one seeding sample files,
      three downloading rarest-first), shows their progress and a summary.
  p2p lab [--peers N] [--size SIZE] [--up RATE] [--down RATE] [--seed-up RATE] [--piece-size SIZE]
          [--policy rarest|random|sequential] [--seed-count K] [--json FILE] [--html FILE]
      Runs a whole swarm on 127.0.0.1 (a tracker, K seeds, N rate-limited leechers),
      then compares each leecher's completion time with the fluid lower bound T_min.
  p2p inspect FILE [--json] [--type NAME] [--peer ID] [--actor NAME] [--stats] [--follow]
      Shows a trace (from --trace FILE or !trace on FILE) decoded, one message a line.
  p2p help
      This text. \`p2p COMMAND --help\` lists every option of a command.

Messages are in Portuguese when LANG starts with "pt", in English otherwise.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'tracker': return await (await import('./tracker-command')).runTracker(rest);
      case 'peer': return await (await import('./peer-command')).runPeer(rest);
      case 'demo': return await (await import('./demo-command')).runDemo(rest);
      case 'lab': return await (await import('./lab-command')).runLab(rest);
      case 'inspect': return await (await import('./inspect-command')).runInspect(rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof EnxameError) {
      process.stderr.write(`p2p: ${err.message}\n(see \`p2p help\`)\n`);
      return 2;
    }
    throw err;
  }
}
