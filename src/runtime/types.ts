// The actor runtime's public vocabulary: references, behaviours, the context an
// actor acts through, and the delivery it reacts to. An actor is a behaviour
// plus private state; it handles one message at a time from its mailbox.
import type { Writer, Reader } from 'protobufjs/minimal';

/** A generated protobuf message class (static code from proto/). */
export interface MessageClass<T> {
  encode(message: T, writer?: Writer): Writer;
  decode(reader: Reader | Uint8Array, length?: number): T;
  /** A message of this type from a plain object (nested messages rebuilt, bytes kept as they are). */
  fromObject(object: { [k: string]: unknown }): T;
  getTypeUrl(prefix?: string): string;
}

/**
 * Where an actor lives and what it accepts. Plain data, so it can travel
 * inside protobuf messages (p2p.v1.ActorRef). `M` is a compile-time tag only.
 */
export interface ActorRef<M = unknown> {
  host: number;
  id: string;
  /** Fully qualified protobuf type name of the actor's inbox. */
  inbox: string;
  /** Phantom field: never set, only gives `tell` its type. */
  readonly __message?: M;
}

/** What a supervisor does when an actor throws. */
export type SupervisionStrategy =
  | { kind: 'restart'; maxRestarts: number; withinMs: number; minBackoffMs: number; maxBackoffMs: number }
  | { kind: 'stop' };

export const DEFAULT_SUPERVISION: SupervisionStrategy = {
  kind: 'restart', maxRestarts: 10, withinMs: 60_000, minBackoffMs: 50, maxBackoffMs: 5_000,
};

import type { TraceRecorder } from './tracer';

export interface Cancellable { cancel(): void }

/** One message as it reached an actor. */
export interface Delivery {
  /** Fully qualified protobuf type of the message. */
  readonly type: string;
  readonly sender?: ActorRef;
  /** True when the sender awaits a reply (an ask). */
  readonly isAsk: boolean;
  /** Answers an ask; later calls are ignored. */
  reply<R>(type: MessageClass<R>, message: R): void;
  /** Fails an ask with a reason the asker sees as an error. */
  fail(reason: string): void;
}

export interface SpawnOptions {
  /** Name of the host to place the actor on; default: the spawner's host. */
  host?: string;
  /** A host-local object handed to the new actor (e.g. an accepted socket). Same host only. */
  resource?: unknown;
}

export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly parent?: ActorRef;
  /** The host-local resource given at spawn, if any. */
  readonly resource: unknown;
  readonly hostName: string;
  /** Records wire messages while a trace is on (test `tracer.on` first). */
  readonly tracer: TraceRecorder;
  tell<T>(to: ActorRef<T>, message: T): void;
  /** Request/response: rejects with AskTimeoutError after timeoutMs. */
  ask<T, R>(to: ActorRef<T>, message: T, reply: MessageClass<R>, timeoutMs: number): Promise<R>;
  spawn<T, P>(behavior: string, props: P, options?: SpawnOptions): ActorRef<T>;
  /** Sends `message` to self after delayMs. */
  schedule(delayMs: number, message: M): Cancellable;
  /** Sends `message` to self every intervalMs. */
  every(intervalMs: number, message: M): Cancellable;
  /** Stops self (after the current message) or another actor. */
  stop(ref?: ActorRef): void;
  log(text: string): void;
}

export interface Actor<M> {
  /** Runs before the first message; messages wait until it settles. */
  started?(): void | Promise<void>;
  receive(message: M, delivery: Delivery): void | Promise<void>;
  /** Runs once when the actor stops or before a restart replaces it. */
  stopped?(): void | Promise<void>;
}

export interface Behavior<M, P = unknown> {
  /** Registry key, e.g. "peer.PieceStore". */
  readonly name: string;
  readonly inbox: MessageClass<M>;
  readonly supervision?: SupervisionStrategy;
  create(ctx: ActorContext<M>, props: P): Actor<M>;
}

/** Declares a behaviour with its types checked. */
export function defineBehavior<M, P>(behavior: Behavior<M, P>): Behavior<M, P> {
  return behavior;
}

export class AskTimeoutError extends Error {
  override readonly name = 'AskTimeoutError';
  readonly code = 'ASK_TIMEOUT';
  constructor(readonly target: ActorRef, readonly type: string, readonly timeoutMs: number) {
    super(`no reply from ${target.id} (${target.inbox}) to ${type} within ${timeoutMs} ms`);
  }
}

export class AskFailedError extends Error {
  override readonly name = 'AskFailedError';
  readonly code = 'ASK_FAILED';
  constructor(readonly target: ActorRef, reason: string) {
    super(`ask to ${target.id} (${target.inbox}) failed: ${reason}`);
  }
}
