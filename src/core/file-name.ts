// A file name from the network becomes a path only after this check: a single
// plain name that stays inside the download folder on any common system.
import { EnxameError } from './errors';

export class UnsafeFileNameError extends EnxameError {
  constructor(readonly fileName: string, reason: string) {
    super('UNSAFE_FILE_NAME', `refusing file name ${JSON.stringify(fileName.slice(0, 80))}: ${reason}`);
  }
}

const MAX_NAME_BYTES = 255;
const RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

export function checkFileName(name: string): string {
  const refuse = (why: string): never => { throw new UnsafeFileNameError(name, why); };
  if (name.length === 0) refuse('it is empty');
  if (name === '.' || name === '..') refuse('it names a folder, not a file');
  if (/[/\\]/.test(name)) refuse('it contains a path separator');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) refuse('it contains a control character');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) refuse(`it is longer than ${MAX_NAME_BYTES} bytes`);
  if (RESERVED.test(name)) refuse('it is a reserved device name');
  if (name !== name.trim()) refuse('it starts or ends with a space');
  if (name.endsWith('.')) refuse('it ends with a dot');
  if (name.toLowerCase().endsWith('.part')) refuse('".part" is reserved for partial downloads');
  return name;
}
