// The frames sent in bulk, by hand rather than through protobufjs: a Block
// (the only one that carries data) and a BlockRequest (sixteen per piece).
// A Block's head (length prefix, PeerFrame and Block tags, content id, piece,
// offset, and the data field's tag and length) is encoded here, and the data
// follows it on the socket straight from the store's buffer, never copied into
// a frame. Requests are written many to one buffer, one write for a batch. On
// the way in both are read without objects per frame. Byte for byte all of it
// is what protobufjs encodes and decodes (unit and property tests check it); a
// frame read here in any way but exactly like PeerFrame.decode is left to it.
import { Writer } from 'protobufjs/minimal';
import { varintSize, writeVarint } from '../../core/frame-codec';
import { emptied } from '../../runtime';

const PEER_FRAME_BLOCK_REQUEST = (4 << 3) | 2;
const PEER_FRAME_BLOCK = (5 << 3) | 2;
// Block and BlockRequest share their first three fields.
const BLOCK_CONTENT_ID = (1 << 3) | 2;
const BLOCK_PIECE = (2 << 3) | 0;
const BLOCK_OFFSET = (3 << 3) | 0;
const BLOCK_DATA = (4 << 3) | 2;
const REQUEST_LENGTH = (4 << 3) | 0;
/** Largest varint of a uint32. */
const MAX_VARINT32 = 5;

/** Everything of a delimited Block frame that comes before its data. */
export function blockFrameHead(contentId: Uint8Array, piece: number, offset: number, dataLength: number): Uint8Array {
  return encodeBlockHead(contentId, piece, offset, dataLength, true).finish();
}

/**
 * A Block frame with its data left out (what a trace records of each block):
 * `PeerFrame.encode({ block })` without data. Traced, this runs once per
 * block: it returns a view into one reused buffer, valid until the next call.
 */
export function blockFrameWithoutData(contentId: Uint8Array, piece: number, offset: number): Uint8Array {
  return encodeBlockHead(contentId, piece, offset, 0, false, emptied(traceWriter)).finish(true);
}

const traceWriter = Writer.create();

function encodeBlockHead(contentId: Uint8Array, piece: number, offset: number, dataLength: number, delimited: boolean, w = Writer.create()): Writer {
  let blockLength = sharedFieldsLength(contentId, piece, offset);
  if (dataLength) blockLength += 1 + varintSize(dataLength) + dataLength;
  if (delimited) w.uint32(1 + varintSize(blockLength) + blockLength);
  w.uint32(PEER_FRAME_BLOCK).uint32(blockLength);
  if (contentId.length) w.uint32(BLOCK_CONTENT_ID).bytes(contentId);
  if (piece) w.uint32(BLOCK_PIECE).uint32(piece);
  if (offset) w.uint32(BLOCK_OFFSET).uint32(offset);
  if (dataLength) w.uint32(BLOCK_DATA).uint32(dataLength);
  return w;
}

/** A Block's or a BlockRequest's fields as read by `readBulkFrame`: views into the frame. */
export interface BulkFrame {
  contentId: Uint8Array;
  piece: number;
  offset: number;
  /** A BlockRequest's length. */
  length: number;
  /** A Block's data. */
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/** Where `varint32` reads next. */
let cursor = 0;

/**
 * Reads a PeerFrame whose body is a Block or a BlockRequest into `out`.
 * Undefined for anything else, and for any frame it would not read exactly
 * as PeerFrame.decode does (a second body field, unknown fields, varints
 * longer than a uint32's): those go to protobufjs.
 */
export function readBulkFrame(frame: Uint8Array, out: BulkFrame): 'block' | 'blockRequest' | undefined {
  const kind = frame[0] === PEER_FRAME_BLOCK ? 'block' : frame[0] === PEER_FRAME_BLOCK_REQUEST ? 'blockRequest' : undefined;
  if (!kind) return undefined;
  cursor = 1;
  const bodyLength = varint32(frame);
  if (bodyLength < 0 || cursor + bodyLength !== frame.length) return undefined; // the body and nothing after it
  out.contentId = EMPTY;
  out.piece = 0;
  out.offset = 0;
  out.length = 0;
  out.data = EMPTY;
  while (cursor < frame.length) {
    const key = varint32(frame);
    if (key === BLOCK_CONTENT_ID || (key === BLOCK_DATA && kind === 'block')) {
      const n = varint32(frame);
      if (n < 0 || cursor + n > frame.length) return undefined;
      const bytes = frame.subarray(cursor, cursor + n);
      cursor += n;
      if (key === BLOCK_CONTENT_ID) out.contentId = bytes;
      else out.data = bytes;
    } else if (key === BLOCK_PIECE || key === BLOCK_OFFSET || (key === REQUEST_LENGTH && kind === 'blockRequest')) {
      const v = varint32(frame);
      if (v < 0) return undefined;
      if (key === BLOCK_PIECE) out.piece = v;
      else if (key === BLOCK_OFFSET) out.offset = v;
      else out.length = v;
    } else {
      return undefined;
    }
  }
  return kind;
}

/** The varint at `cursor` (moved past it), or -1 when it is cut short or not a uint32. */
function varint32(b: Uint8Array): number {
  let value = 0;
  let scale = 1; // 128 ** i
  for (let i = 0; i < MAX_VARINT32 && cursor < b.length; i++, scale *= 128) {
    const byte = b[cursor++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value <= 0xffffffff ? value : -1;
  }
  return -1;
}

/** Bytes of one delimited BlockRequest frame at most, for a content id of this length. */
export function maxBlockRequestBytes(contentIdLength: number): number {
  return 3 * MAX_VARINT32 + (1 + MAX_VARINT32 + contentIdLength) + 3 * (1 + MAX_VARINT32);
}

/**
 * Writes one delimited BlockRequest frame into `out` at `at`, as
 * `delimit(PeerFrame.encode({ blockRequest }))` would; returns where the next
 * byte goes. `out` has room for `maxBlockRequestBytes` from `at`.
 */
export function writeBlockRequest(out: Uint8Array, at: number, contentId: Uint8Array, piece: number, offset: number, length: number): number {
  let body = sharedFieldsLength(contentId, piece, offset);
  if (length) body += 1 + varintSize(length);
  at = writeVarint(out, at, 1 + varintSize(body) + body);
  out[at++] = PEER_FRAME_BLOCK_REQUEST;
  at = writeVarint(out, at, body);
  if (contentId.length) {
    out[at++] = BLOCK_CONTENT_ID;
    at = writeVarint(out, at, contentId.length);
    out.set(contentId, at);
    at += contentId.length;
  }
  if (piece) at = writeVarint(out, writeTag(out, at, BLOCK_PIECE), piece);
  if (offset) at = writeVarint(out, writeTag(out, at, BLOCK_OFFSET), offset);
  if (length) at = writeVarint(out, writeTag(out, at, REQUEST_LENGTH), length);
  return at;
}

/** Bytes of the fields a Block and a BlockRequest share; proto3 leaves out those at their default value, and so does this. */
function sharedFieldsLength(contentId: Uint8Array, piece: number, offset: number): number {
  let n = 0;
  if (contentId.length) n += 1 + varintSize(contentId.length) + contentId.length;
  if (piece) n += 1 + varintSize(piece);
  if (offset) n += 1 + varintSize(offset);
  return n;
}

function writeTag(out: Uint8Array, at: number, tag: number): number {
  out[at] = tag;
  return at + 1;
}
