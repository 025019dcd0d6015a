// Hex strings for ids and hashes in logs, map keys and props.
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error(`not a hex string: ${JSON.stringify(text.slice(0, 40))}`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}
