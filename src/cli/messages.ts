// Human-facing text in Portuguese (LANG starting with "pt") or English.
export type Locale = 'pt' | 'en';

export function detectLocale(env: NodeJS.ProcessEnv = process.env): Locale {
  const lang = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return lang.toLowerCase().startsWith('pt') ? 'pt' : 'en';
}

const pt = {
  trackerIpPrompt: 'Digite o IP do Servidor (Tracker): ',
  trackerPortPrompt: 'Digite a Porta do Servidor (ex: 9090): ',
  peerTrackerPortPrompt: 'Digite a Porta do Tracker: ',
  ownIpPrompt: 'Digite o SEU PRÓPRIO IP para outros peers se conectarem: ',
  inputEnded: 'a entrada terminou antes da resposta',
  trackerListening: (addr: string) => `Tracker ativo em udp://${addr} (Ctrl+C para encerrar)`,
  peerJoined: (id: string, addr: string, files: number) => `peer ${id} entrou (${addr}, ${files} arquivo(s))`,
  peerLeft: (id: string, reason: string) => `peer ${id} saiu (${reason === 'expired' ? 'sem anúncios há 3 intervalos' : 'pediu para sair'})`,
  peerReady: (id: string, addr: string, dir: string) => `Peer ${id} ouvindo em tcp://${addr}, pasta ${dir}`,
  sharing: (n: number) => `Compartilhando ${n} arquivo(s). Comandos: !baixar, !meus_pedacos, !sair, !ajuda`,
  help: [
    '!baixar [NOME]    baixa NOME (ou todos os arquivos da rede que faltam), pedaço mais raro primeiro',
    '!meus_pedacos     lista os arquivos e os pedaços que este peer tem',
    '!rastrear ligar [ARQUIVO] | desligar   grava (ou para de gravar) todas as mensagens; leia com p2p inspect',
    '!sair             avisa o tracker e encerra',
    '!ajuda            esta ajuda',
    '(também em inglês: !download, !pieces, !trace on|off, !quit, !help)',
  ].join('\n'),
  unknownCommand: (c: string) => `comando desconhecido: ${c} (digite !ajuda)`,
  nothingToDownload: 'nada para baixar: você já tem todos os arquivos da rede',
  noSuchFile: (name: string) => `nenhum peer na rede tem "${name}"`,
  trackerUnreachable: (why: string) => `não foi possível falar com o tracker: ${why}`,
  downloading: (name: string, size: string) => `baixando ${name} (${size})`,
  downloadDone: (name: string, secs: string, path: string) => `${name} completo em ${secs} s -> ${path}`,
  downloadFailed: (name: string, why: string) => `${name}: falhou: ${why}`,
  busy: 'um download já está em andamento; aguarde ou use !sair',
  noFiles: 'nenhum arquivo',
  piecesLine: (name: string, have: number, total: number, state: string) => `${name}: ${have}/${total} pedaços${state}`,
  traffic: (up: string, upMax: string, upTotal: string, down: string, downMax: string, downTotal: string, connections: number) =>
    `tráfego: envio ${up} (limite ${upMax}, ${upTotal} no total), recebimento ${down} (limite ${downMax}, ${downTotal} no total), ${connections} conexão(ões)`,
  traceOn: (file: string) => `rastreando todas as mensagens em ${file} (veja com: p2p inspect ${file})`,
  traceOff: (file: string) => `rastreamento parado; o rastro está em ${file}`,
  traceNotOn: 'nenhum rastreamento em andamento',
  traceFailed: (file: string, why: string) => `não foi possível rastrear em ${file}: ${why}`,
  traceUsage: 'uso: !rastrear ligar [ARQUIVO] [--payloads] | !rastrear desligar  (ou !trace on|off)',
  traceUnavailable: 'este programa não pode rastrear',
  complete: ' (completo)',
  partial: ' (parcial)',
  leaving: 'saindo: avisando o tracker...',
  left: 'tchau',
  leaveFailed: (why: string) => `o tracker não confirmou a saída (${why}); saindo mesmo assim`,
  problem: (p: string) => `aviso: ${p}`,
  allDone: (ok: number, total: number) => `${ok} de ${total} download(s) concluído(s)`,
};

const en: typeof pt = {
  trackerIpPrompt: 'Tracker IP: ',
  trackerPortPrompt: 'Tracker port (e.g. 9090): ',
  peerTrackerPortPrompt: 'Tracker port: ',
  ownIpPrompt: 'Your own IP (other peers connect to it): ',
  inputEnded: 'input ended before an answer',
  trackerListening: (addr) => `Tracker listening on udp://${addr} (Ctrl+C to stop)`,
  peerJoined: (id, addr, files) => `peer ${id} joined (${addr}, ${files} file(s))`,
  peerLeft: (id, reason) => `peer ${id} left (${reason === 'expired' ? 'silent for 3 intervals' : 'said goodbye'})`,
  peerReady: (id, addr, dir) => `Peer ${id} listening on tcp://${addr}, folder ${dir}`,
  sharing: (n) => `Sharing ${n} file(s). Commands: !download, !pieces, !quit, !help`,
  help: [
    '!download [NAME]  download NAME (or every file in the network you lack), rarest piece first',
    '!pieces           list the files and pieces this peer holds',
    '!trace on [FILE] | off   record (or stop recording) every message; read it with p2p inspect',
    '!quit             tell the tracker and exit',
    '!help             this help',
    '(Portuguese names work too: !baixar, !meus_pedacos, !rastrear ligar|desligar, !sair, !ajuda)',
  ].join('\n'),
  unknownCommand: (c) => `unknown command: ${c} (type !help)`,
  nothingToDownload: 'nothing to download: you already hold every file in the network',
  noSuchFile: (name) => `no peer in the network holds "${name}"`,
  trackerUnreachable: (why) => `could not reach the tracker: ${why}`,
  downloading: (name, size) => `downloading ${name} (${size})`,
  downloadDone: (name, secs, path) => `${name} complete in ${secs} s -> ${path}`,
  downloadFailed: (name, why) => `${name}: failed: ${why}`,
  busy: 'a download is already running; wait for it or use !quit',
  noFiles: 'no files',
  piecesLine: (name, have, total, state) => `${name}: ${have}/${total} pieces${state}`,
  traffic: (up, upMax, upTotal, down, downMax, downTotal, connections) =>
    `traffic: up ${up} (limit ${upMax}, ${upTotal} in all), down ${down} (limit ${downMax}, ${downTotal} in all), ${connections} connection(s)`,
  traceOn: (file) => `tracing every message into ${file} (read it with: p2p inspect ${file})`,
  traceOff: (file) => `tracing stopped; the trace is in ${file}`,
  traceNotOn: 'no trace is running',
  traceFailed: (file, why) => `cannot trace into ${file}: ${why}`,
  traceUsage: 'usage: !trace on [FILE] [--payloads] | !trace off  (or !rastrear ligar|desligar)',
  traceUnavailable: 'this program cannot trace',
  complete: ' (complete)',
  partial: ' (partial)',
  leaving: 'leaving: telling the tracker...',
  left: 'bye',
  leaveFailed: (why) => `the tracker did not confirm the leave (${why}); exiting anyway`,
  problem: (p) => `warning: ${p}`,
  allDone: (ok, total) => `${ok} of ${total} download(s) finished`,
};

export type Messages = typeof pt;

export function messages(locale: Locale = detectLocale()): Messages {
  return locale === 'pt' ? pt : en;
}
