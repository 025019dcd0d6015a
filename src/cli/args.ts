// A small, strict flag parser: `--name value` or `--name=value`, booleans
// as bare `--name`. Unknown flags are errors, so a typo never passes silently.
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

export interface FlagSpec {
  [flag: string]: 'string' | 'boolean';
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): { flags: Record<string, string | boolean>; rest: string[] } {
  const flags: Record<string, string | boolean> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
  }
  return { flags, rest };
}

/** Parses a TCP/UDP port; 0 means "any free port" only where allowZero. */
export function parsePort(text: string, what: string, allowZero = false): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(`${what}: "${text}" is not a port number (1-65535${allowZero ? ', or 0 for any free port' : ''})`);
  }
  return n;
}

/** Parses "HOST:PORT" (IPv6 as "[::1]:PORT"). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text.trim()) ?? /^([^:]+):(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: "${text}" is not HOST:PORT`);
  return { host: checkHost(m[1]!, what), port: parsePort(m[2]!, what) };
}

export function checkHost(text: string, what: string): string {
  const host = text.trim();
  if (!host || /\s/.test(host) || host.length > 253) throw new UsageError(`${what}: "${text}" is not an IP address or host name`);
  return host;
}

/** Runs `parse` on a flag's text; a failure becomes a UsageError that names the flag. */
export function parseFlagValue<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}
