// `p2p demo`: a whole swarm on 127.0.0.1 from the real binaries. It starts a
// tracker, one seeding peer (sample files, upload capped so the swarm has to
// share) and three empty peers, has the three `!baixar` everything at once,
// shows their progress, checks every file is byte-identical to the seed's,
// prints a summary and exits 0 (1 if anything failed).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFlags } from './args';
import { detectLocale } from './messages';
import { SpawnedP2p, trackerAddressOf } from './spawned';

const LEECHERS = 3;
const DEMO_TIMEOUT_MS = 180_000;

export const DEMO_USAGE = `usage: p2p demo [--dir FOLDER] [--size SIZE_MIB] [--seed-up RATE] [--keep]

  --dir FOLDER     where the peers' folders go (default: a new temporary folder)
  --size N         size of the random sample file in MiB (default: 8)
  --seed-up RATE   the seed's upload limit (default: 4MiB/s)
  --keep           keep the folders afterwards (always kept when --dir is given)
`;

export async function runDemo(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { dir: 'string', size: 'string', 'seed-up': 'string', keep: 'boolean', help: 'boolean' });
  if (flags.help) {
    process.stdout.write(DEMO_USAGE);
    return 0;
  }
  const pt = detectLocale() === 'pt';
  const say = (p: string, e: string) => process.stdout.write((pt ? p : e) + '\n');
  const root = flags.dir ? path.resolve(String(flags.dir)) : fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-demo-'));
  const sizeMiB = Number(flags.size ?? 8);
  if (!(sizeMiB > 0 && sizeMiB <= 1024)) throw new Error('--size: a number of MiB between 1 and 1024');
  const seedUp = String(flags['seed-up'] ?? '4MiB/s');
  const procs: SpawnedP2p[] = [];
  const echoing = new Set<SpawnedP2p>();
  const start = (name: string, args: string[]) => {
    const p: SpawnedP2p = new SpawnedP2p(name, args, { onLine: (l) => { if (echoing.has(p)) say(`[${name}] ${l}`, `[${name}] ${l}`); } });
    procs.push(p);
    return p;
  };
  const timer = setTimeout(() => {
    say('a demo passou do tempo limite; encerrando', 'the demo ran out of time; stopping');
    for (const p of procs) p.kill('SIGKILL');
  }, DEMO_TIMEOUT_MS);
  try {
    const seedDir = path.join(root, 'seed');
    fs.mkdirSync(seedDir, { recursive: true });
    const samples = writeSamples(seedDir, sizeMiB);
    say(`Pasta da demo: ${root}`, `Demo folder: ${root}`);
    say(`Semeador: ${samples.map((s) => `${s.name} (${s.size} B)`).join(', ')}`, `Seed holds: ${samples.map((s) => `${s.name} (${s.size} B)`).join(', ')}`);

    const tracker = start('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']);
    const trackerAddr = (await trackerAddressOf(tracker)).address;
    say(`Tracker em udp://${trackerAddr}`, `Tracker at udp://${trackerAddr}`);

    const peerArgs = (dir: string) => ['peer', '--tracker', trackerAddr, '--ip', '127.0.0.1', '--dir', dir];
    const seed = start('seed', [...peerArgs(seedDir), '--max-up', seedUp]);
    await seed.waitFor(/tcp:\/\//, DEMO_TIMEOUT_MS);
    await tracker.waitFor(new RegExp(`\\(127\\.0\\.0\\.1:\\d+, ${samples.length} `), DEMO_TIMEOUT_MS);
    say(`Semeador anunciou ${samples.length} arquivos (upload limitado a ${seedUp})`, `Seed announced ${samples.length} files (upload capped at ${seedUp})`);

    const leechers: SpawnedP2p[] = [];
    for (let i = 1; i <= LEECHERS; i++) {
      const dir = path.join(root, `peer${i}`);
      fs.mkdirSync(dir, { recursive: true });
      leechers.push(start(`peer${i}`, peerArgs(dir)));
    }
    await Promise.all(leechers.map((p) => p.waitFor(/tcp:\/\//, DEMO_TIMEOUT_MS)));
    const startedAt = Date.now();
    for (const p of leechers) {
      p.send('!baixar');
      echoing.add(p);
    }
    const finishTimes = await Promise.all(leechers.map(async (p) => {
      const line = await p.waitFor((l) => /\d+ (of|de) \d+ download/.test(l) || /nothing to download|nada para baixar/.test(l), DEMO_TIMEOUT_MS);
      return { name: p.name, seconds: (Date.now() - startedAt) / 1000, line };
    }));

    // Everyone is done: check the bytes, then leave politely.
    let allOk = true;
    say('\nResumo:', '\nSummary:');
    for (const [i, p] of leechers.entries()) {
      const dir = path.join(root, `peer${i + 1}`);
      const ok = samples.every((s) => fs.existsSync(path.join(dir, s.name)) && sha256(path.join(dir, s.name)) === s.sha256);
      allOk &&= ok;
      const t = finishTimes[i]!;
      say(`  ${p.name}: ${t.seconds.toFixed(2)} s, ${ok ? 'arquivos idênticos ao original' : 'ARQUIVOS DIFERENTES'}`,
        `  ${p.name}: ${t.seconds.toFixed(2)} s, ${ok ? 'files byte-identical to the seed' : 'FILES DIFFER'}`);
    }
    await Promise.all([...leechers, seed].map((p) => p.quit('!sair')));
    tracker.kill('SIGTERM');
    await tracker.exited;
    say(allOk ? 'Demo concluída: todos os peers têm todos os arquivos.' : 'Demo falhou.',
      allOk ? 'Demo finished: every peer holds every file.' : 'Demo failed.');
    return allOk ? 0 : 1;
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    for (const p of procs) process.stderr.write(`--- ${p.name} (last lines)\n${p.tail(10)}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
    for (const p of procs) p.kill('SIGKILL');
    if (!flags.dir && !flags.keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

function writeSamples(dir: string, sizeMiB: number): { name: string; size: number; sha256: string }[] {
  const files: [string, Buffer][] = [
    ['a.txt', Buffer.from('Olá! Este é o arquivo a.txt, compartilhado pelo enxame.\nHello from a.txt.\n')],
    ['b.txt', Buffer.from('Conteúdo diferente em b.txt: pedaços, rastreador, peers.\n'.repeat(2000))],
    ['swarm.bin', randomBytes(Math.round(sizeMiB * 1024 * 1024))],
  ];
  return files.map(([name, data]) => {
    fs.writeFileSync(path.join(dir, name), data);
    return { name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  });
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
