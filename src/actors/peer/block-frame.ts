// The one frame sent in bulk: a Block. Its head (length prefix, PeerFrame and
// Block tags, content id, piece, offset, and the data field's tag and length)
// is encoded here, and the data follows it on the socket straight from the
// store's buffer, never copied into a frame. Byte for byte it is what
// `delimit(PeerFrame.encode({ block }))` gives (a unit test checks it).
import { Writer } from 'protobufjs/minimal';
import { varintSize } from '../../core/frame-codec';
import { emptied } from '../../runtime';

const PEER_FRAME_BLOCK = (5 << 3) | 2;
const BLOCK_CONTENT_ID = (1 << 3) | 2;
const BLOCK_PIECE = (2 << 3) | 0;
const BLOCK_OFFSET = (3 << 3) | 0;
const BLOCK_DATA = (4 << 3) | 2;

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

/** Whether a PeerFrame's bytes begin with a Block (the only frame sent in bulk). */
export function startsAsBlockFrame(frame: Uint8Array): boolean {
  return frame[0] === PEER_FRAME_BLOCK;
}

function encodeBlockHead(contentId: Uint8Array, piece: number, offset: number, dataLength: number, delimited: boolean, w = Writer.create()): Writer {
  // Proto3 leaves out fields at their default value, and so does this.
  let blockLength = 0;
  if (contentId.length) blockLength += 1 + varintSize(contentId.length) + contentId.length;
  if (piece) blockLength += 1 + varintSize(piece);
  if (offset) blockLength += 1 + varintSize(offset);
  if (dataLength) blockLength += 1 + varintSize(dataLength) + dataLength;
  if (delimited) w.uint32(1 + varintSize(blockLength) + blockLength);
  w.uint32(PEER_FRAME_BLOCK).uint32(blockLength);
  if (contentId.length) w.uint32(BLOCK_CONTENT_ID).bytes(contentId);
  if (piece) w.uint32(BLOCK_PIECE).uint32(piece);
  if (offset) w.uint32(BLOCK_OFFSET).uint32(offset);
  if (dataLength) w.uint32(BLOCK_DATA).uint32(dataLength);
  return w;
}
